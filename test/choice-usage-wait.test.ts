// SPEC A3/B5: a choice between accounts whose usage is unknown waits briefly for their usage,
// even when the usage of an account outside the choice (excluded, cooling down) is known.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AccountManager } from "../account-manager.ts";
import { type Account, AccountStore, serializeStorage } from "../storage.ts";
import type { CodexUsageSnapshot } from "../usage.ts";

// pi-adapter.ts cannot be loaded under vitest with pi 0.73 installed (a pi 1.x-only import);
// no token is refreshed here.
vi.mock("../pi-adapter.ts", () => ({
	refreshCodexToken: async () => {
		throw new Error("pi's OAuth refresh is not used in unit tests");
	},
}));

const T0 = 1_767_225_600_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

let dir: string;
let file: string;
let fetched: string[];

function account(email: string, extra: Partial<Account> = {}): Account {
	return {
		email,
		accessToken: `access-${email}`,
		refreshToken: `refresh-${email}`,
		expiresAt: T0 + DAY,
		...extra,
	};
}

function usage(usedPercent: number): CodexUsageSnapshot {
	return {
		primary: { usedPercent, resetAt: T0 + HOUR },
		secondary: { usedPercent, resetAt: T0 + 5 * DAY },
		fetchedAt: T0,
	};
}

/** a and b unknown until fetched (b has the lower usage); c's usage is known already. */
function createManager(accounts: Account[]): AccountManager {
	writeFileSync(file, serializeStorage({ version: 1, accounts }), { mode: 0o600 });
	const usageByToken = new Map([
		["access-a@x.com", usage(80)],
		["access-b@x.com", usage(10)],
		["access-c@x.com", usage(50)],
	]);
	const manager = new AccountManager({
		store: new AccountStore({ path: () => file }),
		fetchUsage: async (accessToken) => {
			fetched.push(accessToken);
			const known = usageByToken.get(accessToken);
			if (!known) throw new Error("HTTP 503");
			return known;
		},
		loadPiAuth: async () => undefined,
		now: () => T0,
	});
	// c answered with a 429 that carried its usage (B4).
	manager.recordUsage("c@x.com", { primary: { usedPercent: 100, resetAt: T0 + HOUR } });
	return manager;
}

beforeEach(() => {
	dir = mkdtempSync(join(tmpdir(), "multicodex-choice-wait-"));
	file = join(dir, "codex-accounts.json");
	vi.stubEnv("PI_CODING_AGENT_DIR", dir);
	fetched = [];
	// Without usage the choice is random: this one would pick the first of a and b.
	vi.spyOn(Math, "random").mockReturnValue(0);
});

afterEach(() => {
	vi.restoreAllMocks();
	vi.unstubAllEnvs();
	rmSync(dir, { recursive: true, force: true });
});

describe("the first choice among accounts of unknown usage", () => {
	it("waits for their usage although the excluded account's usage is known", async () => {
		const manager = createManager([account("a@x.com"), account("b@x.com"), account("c@x.com")]);

		const chosen = await manager.activateBestAccount({
			excludeEmails: new Set(["c@x.com"]),
			sticky: true,
		});

		expect(chosen?.email).toBe("b@x.com");
	});

	it("waits for their usage although a cooling account's usage is known", async () => {
		const manager = createManager([
			account("a@x.com"),
			account("b@x.com"),
			account("c@x.com", { quotaExhaustedUntil: T0 + HOUR }),
		]);

		expect((await manager.activateBestAccount())?.email).toBe("b@x.com");
	});

	it("does not wait when the usage of one it chooses among is known", async () => {
		const manager = createManager([account("a@x.com"), account("b@x.com"), account("c@x.com")]);
		manager.recordUsage("a@x.com", { primary: { usedPercent: 30, resetAt: T0 + HOUR } });

		// a is known: chosen at once, b's (lower) usage is fetched behind, for the next choice.
		const chosen = await manager.activateBestAccount({ excludeEmails: new Set(["c@x.com"]) });
		expect(chosen?.email).toBe("a@x.com");
		await vi.waitFor(() => expect(fetched).toContain("access-b@x.com"));
	});
});
