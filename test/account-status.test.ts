// SPEC A8: account tags (in order) and the one-line status, with a real AccountManager.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AccountManager } from "../account-manager.ts";
import {
	formatAccountStatusLine,
	formatUsageSummary,
	getAccountTags,
	isPlaceholderAccount,
} from "../account-status.ts";
import type { ImportedOpenAICodexAuth } from "../auth.ts";
import { type Account, AccountStore, type StorageData, serializeStorage } from "../storage.ts";

// pi-adapter.ts cannot be loaded under vitest with pi 0.73 installed (its import of the pi
// 1.x-only `@mariozechner/pi-ai/providers/all` fails vite's import analysis); not used here.
const NOW = 1_767_225_600_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

let dir: string;
let file: string;
let piAuth: ImportedOpenAICodexAuth | undefined;

function account(email: string, extra: Partial<Account> = {}): Account {
	return {
		email,
		accessToken: `access-${email}`,
		refreshToken: `refresh-${email}`,
		expiresAt: NOW + DAY,
		...extra,
	};
}

function createManager(data: Pick<StorageData, "accounts" | "activeEmail">): AccountManager {
	writeFileSync(file, serializeStorage({ version: 1, ...data }));
	return new AccountManager({
		store: new AccountStore({ path: () => file }),
		fetchUsage: async () => {
			throw new Error("no usage requests in this test");
		},
		refreshToken: async () => {
			throw new Error("no refresh in this test");
		},
		loadPiAuth: async () => piAuth,
		now: () => NOW,
	});
}

beforeEach(() => {
	dir = mkdtempSync(join(tmpdir(), "multicodex-status-"));
	file = join(dir, "codex-accounts.json");
	piAuth = undefined;
});

afterEach(() => {
	rmSync(dir, { recursive: true, force: true });
});

describe("isPlaceholderAccount", () => {
	it("is a placeholder with an empty token or expiresAt ≤ 0", () => {
		expect(isPlaceholderAccount(account("a"))).toBe(false);
		expect(isPlaceholderAccount(account("a", { accessToken: "" }))).toBe(true);
		expect(isPlaceholderAccount(account("a", { refreshToken: "" }))).toBe(true);
		expect(isPlaceholderAccount(account("a", { expiresAt: 0 }))).toBe(true);
		expect(isPlaceholderAccount(account("a", { expiresAt: -1 }))).toBe(true);
	});
});

describe("getAccountTags", () => {
	it("lists every tag in A8 order", async () => {
		piAuth = {
			identifier: "pi@x.com",
			credentials: { access: "pi-access-token", refresh: "pi-refresh-token", expires: 0 },
		};
		const manager = createManager({ accounts: [account("a@x.com")], activeEmail: "a@x.com" });
		await manager.loadPiAuth();
		manager.setManualAccount("pi@x.com");
		manager.markExhausted("pi@x.com", NOW + HOUR);
		manager.recordUsage("pi@x.com", {
			primary: { usedPercent: 0, resetAt: NOW + HOUR },
			secondary: { usedPercent: 0, resetAt: NOW + DAY },
		});
		const pi = { ...manager.getAccount("pi@x.com")!, needsReauth: true, codexNotIncluded: true };
		expect(getAccountTags(manager, pi, NOW)).toEqual([
			"active",
			"manual",
			"pi auth",
			"needs reauth",
			"no codex",
			"placeholder",
			"quota",
			"untouched",
		]);
		expect(getAccountTags(manager, manager.getAccount("a@x.com")!, NOW)).toEqual([]);
	});

	it("tags an account whose plan has no Codex `no codex`, whatever the time", () => {
		const manager = createManager({
			accounts: [account("a@x.com"), account("b@x.com", { codexNotIncluded: true })],
			activeEmail: "a@x.com",
		});
		const b = manager.getAccount("b@x.com")!;
		expect(getAccountTags(manager, b, NOW)).toEqual(["no codex"]);
		expect(getAccountTags(manager, b, NOW + 30 * DAY)).toEqual(["no codex"]);
		expect(formatAccountStatusLine(manager, b, NOW)).toBe(
			"b@x.com (no codex) - 5h unknown reset:unknown | weekly unknown reset:unknown",
		);
	});

	it("drops quota once the cooldown has passed", () => {
		const manager = createManager({
			accounts: [account("a@x.com", { quotaExhaustedUntil: NOW + HOUR })],
		});
		const a = manager.getAccount("a@x.com")!;
		expect(getAccountTags(manager, a, NOW)).toContain("quota");
		expect(getAccountTags(manager, a, NOW + HOUR)).not.toContain("quota");
	});
});

describe("formatAccountStatusLine", () => {
	it("formats `<id> (<tags>) - 5h N% reset:… | weekly N% reset:…`", () => {
		const manager = createManager({
			accounts: [account("a@x.com"), account("b@x.com")],
			activeEmail: "a@x.com",
		});
		manager.recordUsage("a@x.com", {
			primary: { usedPercent: 12.4, resetAt: NOW + 2 * HOUR },
			secondary: { usedPercent: 40, resetAt: NOW + 3 * DAY },
		});
		expect(formatAccountStatusLine(manager, manager.getAccount("a@x.com")!, NOW)).toBe(
			"a@x.com (active) - 5h 12% reset:in 2h | weekly 40% reset:in 3d",
		);
	});

	it("leaves out the parentheses without tags and says unknown without usage", () => {
		const manager = createManager({
			accounts: [account("a@x.com"), account("b@x.com")],
			activeEmail: "a@x.com",
		});
		expect(formatAccountStatusLine(manager, manager.getAccount("b@x.com")!, NOW)).toBe(
			"b@x.com - 5h unknown reset:unknown | weekly unknown reset:unknown",
		);
	});

	it("joins several tags with commas in order", () => {
		const manager = createManager({
			accounts: [
				account("a@x.com"),
				account("b@x.com", { needsReauth: true, expiresAt: 0, quotaExhaustedUntil: NOW + HOUR }),
			],
			activeEmail: "a@x.com",
		});
		manager.recordUsage("b@x.com", {
			primary: { usedPercent: 0, resetAt: NOW - 1 },
			secondary: { usedPercent: 0 },
		});
		expect(formatAccountStatusLine(manager, manager.getAccount("b@x.com")!, NOW)).toBe(
			"b@x.com (needs reauth, placeholder, quota, untouched) - 5h 0% reset:now | weekly 0% reset:unknown",
		);
	});

	it("marks the pinned account active and manual", () => {
		const manager = createManager({
			accounts: [account("a@x.com"), account("b@x.com")],
			activeEmail: "a@x.com",
		});
		manager.setManualAccount("b@x.com");
		expect(formatAccountStatusLine(manager, manager.getAccount("b@x.com")!, NOW)).toMatch(
			/^b@x\.com \(active, manual\) - /,
		);
		expect(formatAccountStatusLine(manager, manager.getAccount("a@x.com")!, NOW)).toMatch(
			/^a@x\.com - /,
		);
	});

	it("summarises usage without the identifier", () => {
		const manager = createManager({ accounts: [account("a@x.com")] });
		manager.recordUsage("a@x.com", {
			secondary: { usedPercent: 99.6, resetAt: NOW + 30 * 60_000 },
		});
		expect(formatUsageSummary(manager, manager.getAccount("a@x.com")!, NOW)).toBe(
			"5h unknown reset:unknown | weekly 100% reset:in 30m",
		);
	});
});
