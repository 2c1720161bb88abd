// SPEC A3/A4/B3/B7: account state and policy with a real accounts file in a temp dir and
// injected usage fetch, token refresh, pi login and clock.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
	AccountManager,
	type AccountManagerOptions,
	createProcessState,
	QUOTA_COOLDOWN_MS,
} from "../account-manager.ts";
import type { ImportedOpenAICodexAuth } from "../auth.ts";
import type { CodexCredentials } from "../pi-adapter.ts";
import { saveRotationSettings } from "../rotation-settings.ts";
import { isAccountAvailable } from "../selection.ts";
import { type Account, AccountStore, type StorageData, serializeStorage } from "../storage.ts";
import type { CodexUsageSnapshot } from "../usage.ts";

// pi-adapter.ts cannot be loaded under vitest with pi 0.73 installed: vite's import analysis
// rejects its `import("@mariozechner/pi-ai/providers/all")` (a pi 1.x-only subpath) at
// transform time. Every OAuth call is injected here anyway, so the adapter is replaced.
const T0 = 1_767_225_600_000;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

let dir: string;
let file: string;
let clock: number;
let usageByToken: Map<string, CodexUsageSnapshot>;
let piAuth: ImportedOpenAICodexAuth | undefined;
let fetchUsage: ReturnType<typeof vi.fn<NonNullable<AccountManagerOptions["fetchUsage"]>>>;
let refreshToken: ReturnType<typeof vi.fn<NonNullable<AccountManagerOptions["refreshToken"]>>>;
let loadPiAuth: ReturnType<typeof vi.fn<NonNullable<AccountManagerOptions["loadPiAuth"]>>>;

function creds(tag: string, expires = clock + DAY): CodexCredentials {
	return {
		access: `access-${tag}-secret-value`,
		refresh: `refresh-${tag}-secret-value`,
		expires,
		accountId: `acct-${tag}`,
	};
}

function stored(email: string, tag: string, extra: Partial<Account> = {}): Account {
	const c = creds(tag);
	return {
		email,
		accessToken: c.access,
		refreshToken: c.refresh,
		expiresAt: c.expires,
		accountId: c.accountId as string,
		...extra,
	};
}

function usage(primaryUsed: number, secondaryUsed: number, resetIn = 2 * HOUR): CodexUsageSnapshot {
	return {
		primary: { usedPercent: primaryUsed, resetAt: clock + resetIn },
		secondary: { usedPercent: secondaryUsed, resetAt: clock + 5 * DAY },
		fetchedAt: clock,
	};
}

function writeStorage(data: Pick<StorageData, "accounts" | "activeEmail">): void {
	writeFileSync(file, serializeStorage({ version: 1, ...data }), { mode: 0o600 });
}

function readStorage(): StorageData {
	return JSON.parse(readFileSync(file, "utf8")) as StorageData;
}

function storedAccount(email: string): Account | undefined {
	return readStorage().accounts.find((a) => a.email === email);
}

/**
 * The active account and cooldowns chosen on the request path reach the file a moment after
 * they take effect (the next turn of the event loop).
 */
function afterSave(): Promise<void> {
	return new Promise((resolve) => setImmediate(resolve));
}

function createManager(options: AccountManagerOptions = {}): AccountManager {
	return new AccountManager({
		store: new AccountStore({ path: () => file }),
		fetchUsage,
		refreshToken,
		loadPiAuth,
		now: () => clock,
		...options,
	});
}

function deferred<T>() {
	let resolve!: (value: T) => void;
	let reject!: (error: unknown) => void;
	const promise = new Promise<T>((res, rej) => {
		resolve = res;
		reject = rej;
	});
	return { promise, resolve, reject };
}

beforeEach(() => {
	dir = mkdtempSync(join(tmpdir(), "multicodex-manager-"));
	file = join(dir, "codex-accounts.json");
	vi.stubEnv("PI_CODING_AGENT_DIR", dir);
	clock = T0;
	usageByToken = new Map();
	piAuth = undefined;
	fetchUsage = vi.fn<NonNullable<AccountManagerOptions["fetchUsage"]>>(async (token) => {
		const known = usageByToken.get(token);
		if (!known) throw new Error("HTTP 503");
		return known;
	});
	refreshToken = vi.fn<NonNullable<AccountManagerOptions["refreshToken"]>>(async () => {
		throw new Error("unexpected refresh");
	});
	loadPiAuth = vi.fn<NonNullable<AccountManagerOptions["loadPiAuth"]>>(async () => piAuth);
});

afterEach(async () => {
	// Let background work (usage refresh after a quota hit) settle before the folder goes.
	await new Promise((resolve) => setTimeout(resolve, 10));
	vi.unstubAllEnvs();
	rmSync(dir, { recursive: true, force: true });
});

describe("adding and updating accounts", () => {
	it("appends a new account and makes it active", () => {
		const manager = createManager();
		manager.addOrUpdateAccount("a@x.com", creds("a"));
		manager.addOrUpdateAccount("b@x.com", creds("b"));
		const data = readStorage();
		expect(data.accounts.map((a) => a.email)).toEqual(["a@x.com", "b@x.com"]);
		expect(data.activeEmail).toBe("b@x.com");
		expect(data.accounts[1]).toMatchObject({
			accessToken: creds("b").access,
			refreshToken: creds("b").refresh,
			expiresAt: creds("b").expires,
			accountId: "acct-b",
		});
		expect(manager.getActiveAccount()?.email).toBe("b@x.com");
	});

	it("updates the credentials of an existing account and clears needsReauth", () => {
		writeStorage({
			accounts: [stored("a@x.com", "a", { needsReauth: true }), stored("b@x.com", "b")],
			activeEmail: "b@x.com",
		});
		const manager = createManager();
		const updated = manager.addOrUpdateAccount("a@x.com", creds("a2"));
		expect(updated.accessToken).toBe(creds("a2").access);
		const data = readStorage();
		expect(data.accounts.map((a) => a.email)).toEqual(["a@x.com", "b@x.com"]);
		expect(data.activeEmail).toBe("b@x.com");
		expect(data.accounts[0]).toEqual({
			email: "a@x.com",
			accessToken: creds("a2").access,
			refreshToken: creds("a2").refresh,
			expiresAt: creds("a2").expires,
			accountId: "acct-a2",
		});
		expect(manager.getAccountsNeedingReauth()).toEqual([]);
	});
});

describe("removing accounts", () => {
	it("drops usage and pin; the first remaining account becomes active", () => {
		writeStorage({
			accounts: [stored("a@x.com", "a"), stored("b@x.com", "b"), stored("c@x.com", "c")],
			activeEmail: "b@x.com",
		});
		const manager = createManager();
		manager.recordUsage("b@x.com", usage(10, 10));
		manager.setManualAccount("b@x.com");
		expect(manager.getCachedUsage("b@x.com")).toBeDefined();

		expect(manager.removeAccount("b@x.com")).toBe(true);

		const data = readStorage();
		expect(data.accounts.map((a) => a.email)).toEqual(["a@x.com", "c@x.com"]);
		expect(data.activeEmail).toBe("a@x.com");
		expect(manager.getCachedUsage("b@x.com")).toBeUndefined();
		expect(manager.hasManualAccount()).toBe(false);
		expect(manager.getActiveAccount()?.email).toBe("a@x.com");
	});

	it("keeps the active account when another one is removed", () => {
		writeStorage({
			accounts: [stored("a@x.com", "a"), stored("b@x.com", "b")],
			activeEmail: "b@x.com",
		});
		const manager = createManager();
		expect(manager.removeAccount("a@x.com")).toBe(true);
		expect(readStorage().activeEmail).toBe("b@x.com");
		expect(manager.removeAccount("nobody@x.com")).toBe(false);
		expect(readStorage().accounts.map((a) => a.email)).toEqual(["b@x.com"]);
	});
});

describe("manual pin", () => {
	beforeEach(() => {
		writeStorage({
			accounts: [stored("a@x.com", "a"), stored("b@x.com", "b")],
			activeEmail: "a@x.com",
		});
	});

	it("makes the pinned account active (saved as activeEmail, A3) without writing the pin to the file", () => {
		const manager = createManager();
		manager.setManualAccount("b@x.com");
		expect(manager.getActiveAccount()?.email).toBe("b@x.com");
		expect(manager.getManualAccount()?.email).toBe("b@x.com");
		const data = readStorage();
		expect(data.activeEmail).toBe("b@x.com");
		expect(Object.keys(data)).toEqual(["$schema", "version", "accounts", "activeEmail"]);
		expect(JSON.stringify(data)).not.toMatch(/manual/i);
	});

	it("is only offered while available and not excluded", () => {
		const manager = createManager();
		manager.setManualAccount("b@x.com");
		expect(manager.getAvailableManualAccount()?.email).toBe("b@x.com");
		expect(
			manager.getAvailableManualAccount({ excludeEmails: new Set(["b@x.com"]) }),
		).toBeUndefined();
		manager.markExhausted("b@x.com", clock + HOUR);
		expect(manager.getAvailableManualAccount()).toBeUndefined();
		expect(manager.getAvailableManualAccount({ now: clock + HOUR })?.email).toBe("b@x.com");
	});

	it("is cleared by clearManualAccount and ignored for unknown accounts", () => {
		const manager = createManager();
		manager.setManualAccount("nobody@x.com");
		expect(manager.hasManualAccount()).toBe(false);
		manager.setManualAccount("b@x.com");
		manager.clearManualAccount();
		expect(manager.hasManualAccount()).toBe(false);
		// The account stays active until the next choice; only the pin is gone.
		expect(manager.getActiveAccount()?.email).toBe("b@x.com");
		expect(manager.getManualAccount()).toBeUndefined();
	});

	it("survives a new manager in the same process, not a new process", () => {
		const processState = createProcessState();
		createManager({ processState }).setManualAccount("b@x.com");
		expect(createManager({ processState }).getManualAccount()?.email).toBe("b@x.com");
		expect(createManager().hasManualAccount()).toBe(false);
	});
});

describe("activateBestAccount", () => {
	it("picks the lowest usage and persists it as activeEmail", async () => {
		writeStorage({
			accounts: [stored("a@x.com", "a"), stored("b@x.com", "b")],
			activeEmail: "a@x.com",
		});
		usageByToken.set(creds("a").access, usage(80, 50));
		usageByToken.set(creds("b").access, usage(10, 20));
		const manager = createManager();

		const selected = await manager.activateBestAccount();

		expect(selected?.email).toBe("b@x.com");
		expect(manager.getActiveAccount()?.email).toBe("b@x.com");
		await afterSave();
		expect(readStorage().activeEmail).toBe("b@x.com");
		expect(fetchUsage).toHaveBeenCalledWith(creds("b").access, "acct-b", expect.anything());
	});

	it("respects exclusions", async () => {
		writeStorage({ accounts: [stored("a@x.com", "a"), stored("b@x.com", "b")] });
		usageByToken.set(creds("a").access, usage(80, 50));
		usageByToken.set(creds("b").access, usage(10, 20));
		const manager = createManager();
		const selected = await manager.activateBestAccount({ excludeEmails: new Set(["b@x.com"]) });
		expect(selected?.email).toBe("a@x.com");
		await afterSave();
		expect(readStorage().activeEmail).toBe("a@x.com");
	});

	it("never persists the pi-auth account", async () => {
		writeStorage({ accounts: [stored("a@x.com", "a")], activeEmail: "a@x.com" });
		piAuth = { identifier: "pi@x.com", credentials: creds("pi") };
		usageByToken.set(creds("a").access, usage(90, 90));
		usageByToken.set(creds("pi").access, usage(5, 5));
		const manager = createManager();
		await manager.loadPiAuth();

		const selected = await manager.activateBestAccount();

		expect(selected?.email).toBe("pi@x.com");
		expect(manager.getActiveAccount()?.email).toBe("pi@x.com");
		const text = readFileSync(file, "utf8");
		expect(readStorage().activeEmail).toBe("a@x.com");
		expect(text).not.toContain("pi@x.com");
		expect(text).not.toContain(creds("pi").access);
	});

	it("clears expired cooldowns before choosing", async () => {
		writeStorage({
			accounts: [
				stored("a@x.com", "a", { quotaExhaustedUntil: clock - 1 }),
				stored("b@x.com", "b", { quotaExhaustedUntil: clock + HOUR }),
			],
		});
		usageByToken.set(creds("a").access, usage(50, 50));
		usageByToken.set(creds("b").access, usage(0, 0));
		const manager = createManager();
		expect((await manager.activateBestAccount())?.email).toBe("a@x.com");
		await afterSave();
		expect(storedAccount("a@x.com")?.quotaExhaustedUntil).toBeUndefined();
		expect(storedAccount("b@x.com")?.quotaExhaustedUntil).toBe(clock + HOUR);
	});

	it("warns with the account and the reason when a usage fetch fails", async () => {
		writeStorage({ accounts: [stored("a@x.com", "a")] });
		const warnings: string[] = [];
		const manager = createManager();
		manager.setWarningHandler((message) => warnings.push(message));
		await manager.refreshUsageForAccount(manager.getAccount("a@x.com")!);
		expect(warnings).toHaveLength(1);
		expect(warnings[0]).toContain("a@x.com");
		expect(warnings[0]).toContain("HTTP 503");
	});
});

describe("token validity", () => {
	it("uses the token as is until 5 minutes before expiry, then refreshes and saves", async () => {
		writeStorage({ accounts: [stored("a@x.com", "a", { expiresAt: T0 + 5 * MINUTE + 1 })] });
		refreshToken.mockImplementation(async () => creds("a-new", T0 + DAY));
		const manager = createManager();
		const account = manager.getAccount("a@x.com")!;

		expect(await manager.ensureValidToken(account)).toBe(creds("a").access);
		expect(refreshToken).not.toHaveBeenCalled();

		clock = T0 + 1;
		expect(await manager.ensureValidToken(account)).toBe(creds("a-new").access);
		expect(refreshToken).toHaveBeenCalledTimes(1);
		expect(refreshToken.mock.calls[0]?.[0]).toBe(creds("a").refresh);
		expect(storedAccount("a@x.com")).toMatchObject({
			accessToken: creds("a-new").access,
			refreshToken: creds("a-new").refresh,
			expiresAt: T0 + DAY,
			accountId: "acct-a-new",
		});
		expect(await manager.ensureValidToken(account)).toBe(creds("a-new").access);
		expect(refreshToken).toHaveBeenCalledTimes(1);
	});

	it("shares one refresh between concurrent calls", async () => {
		writeStorage({ accounts: [stored("a@x.com", "a", { expiresAt: T0 })] });
		const pending = deferred<CodexCredentials>();
		refreshToken.mockImplementation(() => pending.promise);
		const manager = createManager();
		const account = manager.getAccount("a@x.com")!;

		const calls = [
			manager.ensureValidToken(account),
			manager.ensureValidToken(account),
			manager.ensureValidToken(account),
		];
		await vi.waitFor(() => expect(refreshToken).toHaveBeenCalled());
		pending.resolve(creds("a-new"));

		expect(await Promise.all(calls)).toEqual([
			creds("a-new").access,
			creds("a-new").access,
			creds("a-new").access,
		]);
		expect(refreshToken).toHaveBeenCalledTimes(1);
	});

	it("flags the account on a failed refresh, with a repair hint and no token", async () => {
		writeStorage({ accounts: [stored("a@x.com", "a", { expiresAt: T0 })] });
		const { access, refresh } = creds("a");
		refreshToken.mockRejectedValue(
			new Error(`invalid_grant: refresh token ${refresh} was already used (access ${access})`),
		);
		const manager = createManager();
		const account = manager.getAccount("a@x.com")!;

		const error = await manager.ensureValidToken(account).then(
			() => undefined,
			(e: unknown) => e as Error,
		);

		expect(error).toBeInstanceOf(Error);
		expect(error?.message).toContain("/multicodex reauth a@x.com");
		expect(error?.message).not.toContain(access);
		expect(error?.message).not.toContain(refresh);
		expect(storedAccount("a@x.com")?.needsReauth).toBe(true);
		expect(isAccountAvailable(manager.getAccount("a@x.com")!, clock)).toBe(false);

		// A flagged account fails at once, with a hint, and is not refreshed again.
		await expect(manager.ensureValidToken(account)).rejects.toThrow("/multicodex use a@x.com");
		expect(refreshToken).toHaveBeenCalledTimes(1);
	});
});

describe("pi-auth account", () => {
	it("is held in memory only and skipped when a managed account has its identifier", async () => {
		writeStorage({ accounts: [stored("a@x.com", "a")], activeEmail: "a@x.com" });
		piAuth = { identifier: "pi@x.com", credentials: creds("pi") };
		const manager = createManager();
		await manager.loadPiAuth();
		expect(manager.getAccounts().map((a) => a.email)).toEqual(["a@x.com", "pi@x.com"]);
		expect(manager.isPiAuthAccount(manager.getAccount("pi@x.com")!)).toBe(true);

		manager.setManualAccount("pi@x.com");
		manager.setActiveAccount("pi@x.com");
		manager.markExhausted("pi@x.com", clock + HOUR);
		manager.addOrUpdateAccount("b@x.com", creds("b"));
		const text = readFileSync(file, "utf8");
		expect(text).not.toContain("pi@x.com");
		expect(text).not.toContain(creds("pi").access);
		expect(text).not.toContain(creds("pi").refresh);
		expect(manager.getAccount("pi@x.com")?.quotaExhaustedUntil).toBe(clock + HOUR);

		piAuth = { identifier: "a@x.com", credentials: creds("pi") };
		await manager.loadPiAuth();
		expect(manager.getPiAuthAccount()).toBeUndefined();
		expect(manager.getAccounts().map((a) => a.email)).toEqual(["a@x.com", "b@x.com"]);
	});

	it("stays the active account through later writes of the file", async () => {
		writeStorage({ accounts: [stored("a@x.com", "a")], activeEmail: "a@x.com" });
		piAuth = { identifier: "pi@x.com", credentials: creds("pi") };
		const manager = createManager();
		await manager.loadPiAuth();

		// a@x.com runs out, the retry moves to pi's login, then the cooldown is saved.
		manager.applyQuotaSignal(manager.getAccount("a@x.com")!, {
			kind: "usage_limit_reached",
			resetAt: clock + HOUR,
		});
		manager.setActiveAccount("pi@x.com");
		await afterSave();

		expect(storedAccount("a@x.com")?.quotaExhaustedUntil).toBe(clock + HOUR);
		expect(readStorage().activeEmail).toBe("a@x.com");
		expect(manager.getActiveAccount()?.email).toBe("pi@x.com");
		// A new login becomes active; choosing pi's login again survives the next write too.
		manager.addOrUpdateAccount("b@x.com", creds("b"));
		expect(manager.getActiveAccount()?.email).toBe("b@x.com");
		manager.setActiveAccount("pi@x.com");
		manager.markExhausted("b@x.com", clock + HOUR);
		expect(manager.getActiveAccount()?.email).toBe("pi@x.com");
		expect(readFileSync(file, "utf8")).not.toContain("pi@x.com");
	});

	it("leaves the list once another window adds a managed account of its identifier", async () => {
		writeStorage({ accounts: [stored("a@x.com", "a")], activeEmail: "a@x.com" });
		piAuth = { identifier: "pi@x.com", credentials: creds("pi") };
		const manager = createManager();
		await manager.loadPiAuth();
		expect(manager.getAccounts().map((a) => a.email)).toEqual(["a@x.com", "pi@x.com"]);

		clock += MINUTE;
		writeStorage({
			accounts: [stored("a@x.com", "a"), stored("pi@x.com", "managed-pi")],
			activeEmail: "a@x.com",
		});

		expect(manager.getAccounts().map((a) => a.email)).toEqual(["a@x.com", "pi@x.com"]);
		expect(manager.getPiAuthAccount()).toBeUndefined();
		expect(manager.getAccount("pi@x.com")?.accessToken).toBe(creds("managed-pi").access);
	});

	it("is re-read from auth.json when expiring, never refreshed by us", async () => {
		writeStorage({ accounts: [stored("a@x.com", "a")] });
		piAuth = { identifier: "pi@x.com", credentials: creds("pi", T0 + 10 * MINUTE) };
		const manager = createManager();
		await manager.loadPiAuth();
		const account = manager.getAccount("pi@x.com")!;
		expect(await manager.ensureValidToken(account)).toBe(creds("pi").access);
		expect(loadPiAuth).toHaveBeenCalledTimes(1);

		clock = T0 + 6 * MINUTE;
		piAuth = { identifier: "pi@x.com", credentials: creds("pi-new", clock + HOUR) };
		expect(await manager.ensureValidToken(account)).toBe(creds("pi-new").access);
		expect(loadPiAuth).toHaveBeenCalledTimes(2);
		expect(refreshToken).not.toHaveBeenCalled();
		expect(manager.getAccount("pi@x.com")?.accessToken).toBe(creds("pi-new").access);
		expect(readFileSync(file, "utf8")).not.toContain("pi@x.com");
	});

	it("is dropped with a /login hint when auth.json holds no fresh token", async () => {
		piAuth = { identifier: "pi@x.com", credentials: creds("pi", T0 + 10 * MINUTE) };
		const manager = createManager();
		await manager.loadPiAuth();
		const account = manager.getAccount("pi@x.com")!;
		clock = T0 + 6 * MINUTE;

		const error = await manager.ensureValidToken(account).then(
			() => undefined,
			(e: unknown) => e as Error,
		);
		expect(error?.message).toContain("/login openai-codex");
		expect(error?.message).not.toContain(creds("pi").access);
		expect(manager.getAccounts()).toEqual([]);
		expect(refreshToken).not.toHaveBeenCalled();
	});
});

describe("applyQuotaSignal", () => {
	beforeEach(() => {
		writeStorage({ accounts: [stored("a@x.com", "a"), stored("b@x.com", "b")] });
	});

	it("usage_limit_reached cools down until the answer's reset", async () => {
		const manager = createManager();
		const notice = manager.applyQuotaSignal(manager.getAccount("a@x.com")!, {
			kind: "usage_limit_reached",
			resetAt: clock + 3 * HOUR,
		});
		expect(notice).toBeUndefined();
		await afterSave();
		expect(storedAccount("a@x.com")?.quotaExhaustedUntil).toBe(clock + 3 * HOUR);
		expect(storedAccount("b@x.com")?.quotaExhaustedUntil).toBeUndefined();
		expect(manager.getEarliestCooldownEnd()).toEqual({ email: "a@x.com", until: clock + 3 * HOUR });
	});

	it("usage_limit_reached without a reset cools down 1 hour, then learns the reset from usage", async () => {
		usageByToken.set(creds("a").access, usage(100, 40, 3 * HOUR));
		const manager = createManager();
		manager.applyQuotaSignal(manager.getAccount("a@x.com")!, { kind: "usage_limit_reached" });
		await afterSave();
		const first = storedAccount("a@x.com")?.quotaExhaustedUntil;
		expect([clock + QUOTA_COOLDOWN_MS, clock + 3 * HOUR]).toContain(first);
		await vi.waitFor(() => {
			expect(storedAccount("a@x.com")?.quotaExhaustedUntil).toBe(clock + 3 * HOUR);
		});
	});

	it("rate_limited without a reset gets a short cooldown", async () => {
		const manager = createManager();
		manager.applyQuotaSignal(manager.getAccount("a@x.com")!, { kind: "rate_limited" });
		await afterSave();
		const until = storedAccount("a@x.com")?.quotaExhaustedUntil ?? 0;
		expect(until).toBeGreaterThan(clock);
		expect(until).toBeLessThanOrEqual(clock + 5 * MINUTE);
		expect(isAccountAvailable(manager.getAccount("a@x.com")!, clock)).toBe(false);
		expect(isAccountAvailable(manager.getAccount("a@x.com")!, until)).toBe(true);
	});

	it("rate_limited ignores the usage windows: a plain 429 never waits for a 5 h reset", async () => {
		const manager = createManager();
		// The 429's own headers put a 5 h window into the usage cache first (as on SSE).
		manager.recordUsage("a@x.com", usage(100, 40, 3 * HOUR));
		manager.applyQuotaSignal(manager.getAccount("a@x.com")!, { kind: "rate_limited" });
		await afterSave();
		const until = storedAccount("a@x.com")?.quotaExhaustedUntil ?? 0;
		expect(until).toBeGreaterThan(clock);
		expect(until).toBeLessThanOrEqual(clock + 5 * MINUTE);
	});

	it("rate_limited with retry-after uses it", async () => {
		const manager = createManager();
		manager.applyQuotaSignal(manager.getAccount("a@x.com")!, {
			kind: "rate_limited",
			resetAt: clock + 30_000,
		});
		await afterSave();
		expect(storedAccount("a@x.com")?.quotaExhaustedUntil).toBe(clock + 30_000);
	});

	describe("usage_not_included", () => {
		it("flags the account at once, saves the flag, sets no cooldown and says how to undo it", async () => {
			const manager = createManager();
			const notice = manager.applyQuotaSignal(manager.getAccount("b@x.com")!, {
				kind: "usage_not_included",
			});
			expect(notice).toContain("b@x.com cannot use Codex");
			expect(notice).toContain("/multicodex reauth b@x.com");
			expect(notice).toContain("/multicodex use b@x.com");
			expect(notice).toContain("/multicodex reset quota");
			// In effect at once, in the file a moment later (off the request path).
			expect(manager.getAccount("b@x.com")?.codexNotIncluded).toBe(true);
			await afterSave();
			expect(storedAccount("b@x.com")).toMatchObject({ codexNotIncluded: true });
			expect(storedAccount("b@x.com")?.quotaExhaustedUntil).toBeUndefined();
			expect(manager.getAccount("b@x.com")?.quotaExhaustedUntil).toBeUndefined();
			expect(storedAccount("a@x.com")?.codexNotIncluded).toBeUndefined();
			// Never available again by waiting, and never named as the first back.
			expect(isAccountAvailable(manager.getAccount("b@x.com")!, clock + 30 * DAY)).toBe(false);
			expect(manager.getEarliestCooldownEnd()).toBeUndefined();
			// Another window (a new manager on the file) sees it too.
			expect(createManager().getAccount("b@x.com")?.codexNotIncluded).toBe(true);
		});

		it("a flagged account is never chosen, even with the lowest usage and its usage unfetched", async () => {
			usageByToken.set(creds("a").access, usage(90, 90));
			usageByToken.set(creds("b").access, usage(0, 0));
			const manager = createManager();
			manager.applyQuotaSignal(manager.getAccount("b@x.com")!, { kind: "usage_not_included" });
			clock += 30 * DAY;
			expect((await manager.activateBestAccount())?.email).toBe("a@x.com");
			expect((await manager.activateBestAccount({ sticky: true }))?.email).toBe("a@x.com");
			expect(
				await manager.activateBestAccount({ excludeEmails: new Set(["a@x.com"]) }),
			).toBeUndefined();
			expect(fetchUsage).not.toHaveBeenCalledWith(creds("b").access, "acct-b", expect.anything());
		});

		it("a new login of the account clears the flag", async () => {
			const manager = createManager();
			manager.applyQuotaSignal(manager.getAccount("b@x.com")!, { kind: "usage_not_included" });
			await afterSave();
			manager.addOrUpdateAccount("b@x.com", creds("b2"));
			expect(manager.getAccount("b@x.com")?.codexNotIncluded).toBeUndefined();
			expect(storedAccount("b@x.com")?.codexNotIncluded).toBeUndefined();
			expect(isAccountAvailable(manager.getAccount("b@x.com")!, clock)).toBe(true);
		});

		it("a new login right away (flag not saved yet) also clears it", () => {
			const manager = createManager();
			manager.applyQuotaSignal(manager.getAccount("b@x.com")!, { kind: "usage_not_included" });
			expect(manager.getAccount("b@x.com")?.codexNotIncluded).toBe(true);
			manager.addOrUpdateAccount("b@x.com", creds("b2"));
			expect(storedAccount("b@x.com")?.codexNotIncluded).toBeUndefined();
			expect(manager.getAccount("b@x.com")?.codexNotIncluded).toBeUndefined();
		});

		it("reset quota clears the flag and counts the account once", async () => {
			writeStorage({
				accounts: [
					stored("a@x.com", "a", { quotaExhaustedUntil: clock + HOUR }),
					stored("b@x.com", "b"),
					stored("c@x.com", "c", { codexNotIncluded: true, quotaExhaustedUntil: clock + HOUR }),
					stored("d@x.com", "d"),
				],
			});
			piAuth = { identifier: "pi@x.com", credentials: creds("pi") };
			const manager = createManager();
			await manager.loadPiAuth();
			manager.applyQuotaSignal(manager.getAccount("b@x.com")!, { kind: "usage_not_included" });
			manager.applyQuotaSignal(manager.getAccount("pi@x.com")!, { kind: "usage_not_included" });
			// pi's login keeps its flag when auth.json is read again (a new session).
			await manager.loadPiAuth();
			expect(manager.getAccount("pi@x.com")?.codexNotIncluded).toBe(true);

			expect(manager.clearAllQuotaExhaustion()).toBe(4);
			for (const email of ["a@x.com", "b@x.com", "c@x.com", "d@x.com", "pi@x.com"]) {
				const account = manager.getAccount(email)!;
				expect(account.codexNotIncluded, email).toBeUndefined();
				expect(isAccountAvailable(account, clock), email).toBe(true);
			}
			for (const account of readStorage().accounts) {
				expect(account.codexNotIncluded, account.email).toBeUndefined();
				expect(account.quotaExhaustedUntil, account.email).toBeUndefined();
			}
			await afterSave();
			expect(readStorage().accounts.some((a) => a.codexNotIncluded)).toBe(false);
		});
	});

	it("records the usage the answer carried", () => {
		const manager = createManager();
		manager.applyQuotaSignal(manager.getAccount("a@x.com")!, {
			kind: "usage_limit_reached",
			resetAt: clock + HOUR,
			usage: { primary: { usedPercent: 100, resetAt: clock + HOUR } },
		});
		expect(manager.getCachedUsage("a@x.com")?.primary).toEqual({
			usedPercent: 100,
			resetAt: clock + HOUR,
		});
	});

	it("never lets a shorter signal shorten a running cooldown", async () => {
		const manager = createManager();
		const account = manager.getAccount("a@x.com")!;
		manager.applyQuotaSignal(account, { kind: "usage_limit_reached", resetAt: clock + 5 * HOUR });
		manager.applyQuotaSignal(account, { kind: "rate_limited", resetAt: clock + MINUTE });
		await afterSave();
		expect(storedAccount("a@x.com")?.quotaExhaustedUntil).toBe(clock + 5 * HOUR);
	});
});

describe("saving off the request path", () => {
	beforeEach(() => {
		writeStorage({
			accounts: [stored("a@x.com", "a"), stored("b@x.com", "b")],
			activeEmail: "a@x.com",
		});
	});

	it("a quota cooldown holds at once and reaches the file a moment later, merged with another window's changes", async () => {
		const manager = createManager();
		manager.applyQuotaSignal(manager.getAccount("a@x.com")!, {
			kind: "usage_limit_reached",
			resetAt: clock + HOUR,
		});
		// The retry and the footer see it before anything is written.
		expect(isAccountAvailable(manager.getAccount("a@x.com")!, clock)).toBe(false);
		expect(storedAccount("a@x.com")?.quotaExhaustedUntil).toBeUndefined();

		// Meanwhile another window saves a longer cooldown of a, one of b, and a new account.
		new AccountStore({ path: () => file }).update((data) => {
			const a = data.accounts.find((x) => x.email === "a@x.com")!;
			const b = data.accounts.find((x) => x.email === "b@x.com")!;
			a.quotaExhaustedUntil = clock + 2 * HOUR;
			b.quotaExhaustedUntil = clock + 3 * HOUR;
			data.accounts.push(stored("c@x.com", "c"));
		});
		// Reading that change keeps this window's cooldown, which is not saved yet.
		manager.reloadFromDisk();
		expect(manager.getAccount("a@x.com")?.quotaExhaustedUntil).toBe(clock + 2 * HOUR);

		await afterSave();
		const saved = readStorage();
		expect(saved.accounts.map((x) => [x.email, x.quotaExhaustedUntil])).toEqual([
			["a@x.com", clock + 2 * HOUR],
			["b@x.com", clock + 3 * HOUR],
			["c@x.com", undefined],
		]);
	});

	it("many switches of the active account are written once, the last one winning", async () => {
		const store = new AccountStore({ path: () => file });
		const update = vi.spyOn(store, "update");
		const manager = createManager({ store });
		manager.setActiveAccount("b@x.com");
		manager.setActiveAccount("a@x.com");
		manager.setActiveAccount("b@x.com");
		expect(manager.getActiveAccount()?.email).toBe("b@x.com");
		expect(update).not.toHaveBeenCalled();

		await afterSave();
		expect(update).toHaveBeenCalledTimes(1);
		expect(readStorage().activeEmail).toBe("b@x.com");
	});

	it("the session's end writes what is still pending, at once", () => {
		const manager = createManager();
		manager.setActiveAccount("b@x.com");
		manager.applyQuotaSignal(manager.getAccount("a@x.com")!, {
			kind: "rate_limited",
			resetAt: clock + MINUTE,
		});
		manager.cancelBackgroundWork();
		expect(readStorage().activeEmail).toBe("b@x.com");
		expect(storedAccount("a@x.com")?.quotaExhaustedUntil).toBe(clock + MINUTE);
	});

	it("another change written first carries the pending ones with it", () => {
		const manager = createManager();
		manager.applyQuotaSignal(manager.getAccount("a@x.com")!, {
			kind: "rate_limited",
			resetAt: clock + MINUTE,
		});
		manager.addOrUpdateAccount("c@x.com", creds("c"));
		expect(storedAccount("a@x.com")?.quotaExhaustedUntil).toBe(clock + MINUTE);
		expect(readStorage().activeEmail).toBe("c@x.com");
	});

	it("a failed save is reported and tried again with the next change", async () => {
		const store = new AccountStore({ path: () => file });
		const manager = createManager({ store });
		const warnings: string[] = [];
		manager.setWarningHandler((message) => warnings.push(message));
		const update = vi.spyOn(store, "update").mockImplementationOnce(() => {
			throw new Error("lock timed out");
		});
		manager.setActiveAccount("b@x.com");
		await afterSave();
		expect(warnings).toEqual([expect.stringContaining("lock timed out")]);
		expect(manager.getActiveAccount()?.email).toBe("b@x.com");

		manager.markExhausted("a@x.com", clock + HOUR);
		expect(update).toHaveBeenCalledTimes(2);
		expect(readStorage().activeEmail).toBe("b@x.com");
		expect(storedAccount("a@x.com")?.quotaExhaustedUntil).toBe(clock + HOUR);
	});

	it("waits for usage only when nothing is known and there is more than one account to choose from", async () => {
		const slowUsage = deferred<CodexUsageSnapshot>();
		fetchUsage.mockImplementation(() => slowUsage.promise);
		const manager = createManager();
		const nextTurn = new Promise<string>((resolve) => setImmediate(() => resolve("waited")));
		// A rotation down to the last account: chosen at once, the usage fetch goes on behind.
		const lastOne = manager.activateBestAccount({ excludeEmails: new Set(["a@x.com"]) });
		expect(await Promise.race([lastOne.then((a) => a?.email), nextTurn])).toBe("b@x.com");
		// Two to choose from and nothing known: a short wait for the first answers.
		const twoLeft = manager.activateBestAccount();
		const afterTurn = new Promise<string>((resolve) => setImmediate(() => resolve("waited")));
		expect(await Promise.race([twoLeft.then((a) => a?.email), afterTurn])).toBe("waited");
		slowUsage.resolve(usage(10, 10));
		expect(await twoLeft).toBeDefined();
	});

	it("a choice looks at the file once, and scans usage again only when some can have expired", async () => {
		usageByToken.set(creds("a").access, usage(50, 50));
		usageByToken.set(creds("b").access, usage(10, 10));
		const store = new AccountStore({ path: () => file });
		const manager = createManager({ store });
		await manager.refreshUsageForAllAccounts();
		expect(fetchUsage).toHaveBeenCalledTimes(2);
		const stat = vi.spyOn(store, "hasChangedOnDisk");

		expect((await manager.activateBestAccount())?.email).toBe("b@x.com");
		expect((await manager.activateBestAccount())?.email).toBe("b@x.com");
		expect(stat).toHaveBeenCalledTimes(2);
		expect(fetchUsage).toHaveBeenCalledTimes(2);

		// Five minutes on, every snapshot is stale: the next choice refreshes them again.
		clock += 5 * MINUTE;
		usageByToken.set(creds("a").access, usage(50, 50));
		usageByToken.set(creds("b").access, usage(10, 10));
		await manager.activateBestAccount();
		expect(fetchUsage).toHaveBeenCalledTimes(4);
	});
});

describe("sticky choices and usage requests", () => {
	beforeEach(() => {
		writeStorage({
			accounts: [stored("a@x.com", "a"), stored("b@x.com", "b"), stored("c@x.com", "c")],
		});
		usageByToken.set(creds("a").access, usage(50, 50));
		usageByToken.set(creds("b").access, usage(10, 10));
		usageByToken.set(creds("c").access, usage(30, 30));
	});

	it("normal work on the kept account makes no usage requests, however old the others' usage", async () => {
		const manager = createManager();
		await manager.refreshUsageForAllAccounts();
		expect((await manager.activateBestAccount({ sticky: true }))?.email).toBe("b@x.com");
		fetchUsage.mockClear();

		clock += 30 * MINUTE;
		// The answers keep the kept account's numbers current.
		manager.recordUsage("b@x.com", { primary: { usedPercent: 20, resetAt: clock + HOUR } });
		for (let turn = 0; turn < 3; turn++) {
			expect((await manager.activateBestAccount({ sticky: true }))?.email).toBe("b@x.com");
		}
		await new Promise((resolve) => setTimeout(resolve, 5));
		expect(fetchUsage).not.toHaveBeenCalled();
	});

	it("leaving the kept account refreshes the stale usage of the others", async () => {
		const manager = createManager();
		await manager.refreshUsageForAllAccounts();
		expect((await manager.activateBestAccount({ sticky: true }))?.email).toBe("b@x.com");
		fetchUsage.mockClear();

		clock += 30 * MINUTE;
		const next = await manager.activateBestAccount({
			sticky: true,
			excludeEmails: new Set(["b@x.com"]),
		});
		expect(next?.email).toBe("c@x.com");
		await vi.waitFor(() => expect(fetchUsage).toHaveBeenCalledTimes(3));
	});
});

describe("several managers on one file", () => {
	it("do not lose each other's changes", () => {
		const first = createManager();
		const second = createManager();
		first.addOrUpdateAccount("a@x.com", creds("a"));
		second.addOrUpdateAccount("b@x.com", creds("b"));
		expect(readStorage().accounts.map((a) => a.email)).toEqual(["a@x.com", "b@x.com"]);

		// Each one changes an account while its in-memory copy is stale.
		first.markExhausted("a@x.com", clock + HOUR);
		second.markExhausted("b@x.com", clock + 2 * HOUR);
		expect(readStorage().accounts).toEqual([
			expect.objectContaining({ email: "a@x.com", quotaExhaustedUntil: clock + HOUR }),
			expect.objectContaining({ email: "b@x.com", quotaExhaustedUntil: clock + 2 * HOUR }),
		]);

		// Cooldowns set by one are honoured by the other.
		first.reloadFromDisk();
		expect(first.getAccount("b@x.com")?.quotaExhaustedUntil).toBe(clock + 2 * HOUR);
		expect(first.getEarliestCooldownEnd()).toEqual({ email: "a@x.com", until: clock + HOUR });

		second.removeAccount("a@x.com");
		expect(readStorage().accounts.map((a) => a.email)).toEqual(["b@x.com"]);
	});

	it("adopts a refresh another manager already made", async () => {
		writeStorage({ accounts: [stored("a@x.com", "a", { expiresAt: T0 })] });
		const first = createManager();
		const second = createManager();
		refreshToken.mockImplementation(async () => creds("a-new"));
		expect(await first.ensureValidToken(first.getAccount("a@x.com")!)).toBe(creds("a-new").access);
		// `second` still holds the old, used refresh token in memory.
		expect(await second.ensureValidToken(second.getAccount("a@x.com")!)).toBe(
			creds("a-new").access,
		);
		expect(refreshToken).toHaveBeenCalledTimes(1);
		expect(storedAccount("a@x.com")?.needsReauth).toBeUndefined();
	});
});

describe("the session's account (B6)", () => {
	beforeEach(() => {
		writeStorage({
			accounts: [stored("normal@x.com", "normal"), stored("busy@x.com", "busy")],
		});
		usageByToken.set(creds("normal").access, usage(20, 20));
		usageByToken.set(creds("busy").access, usage(60, 60));
	});

	it("is the pinned account that answered last, kept once the pin is cleared", async () => {
		const manager = createManager();
		manager.setRotationSettings({
			...manager.getRotationSettings(),
			proactiveSwitchPercent: undefined,
		});
		await manager.refreshUsageForAllAccounts();
		expect((await manager.activateBestAccount({ sticky: true }))?.email).toBe("normal@x.com");

		// `/multicodex use busy@x.com`, then a prompt: the request goes to the pin (as the stream
		// wrapper sends it).
		manager.setManualAccount("busy@x.com");
		const pinned = manager.getAvailableManualAccount();
		expect(pinned?.email).toBe("busy@x.com");
		manager.setActiveAccount("busy@x.com");

		// `/multicodex reset manual`, then a prompt: the session stays on busy@x.com.
		manager.clearManualAccount();
		expect((await manager.activateBestAccount({ sticky: true }))?.email).toBe("busy@x.com");
	});

	it("is not moved by a pick that no request used before the pin was cleared", async () => {
		const manager = createManager();
		await manager.refreshUsageForAllAccounts();
		expect((await manager.activateBestAccount({ sticky: true }))?.email).toBe("normal@x.com");
		manager.setManualAccount("busy@x.com");
		manager.clearManualAccount();
		expect((await manager.activateBestAccount({ sticky: true }))?.email).toBe("normal@x.com");
	});
});

describe("round-robin between sessions", () => {
	const EMAILS = ["a@x.com", "b@x.com", "c@x.com", "d@x.com"];

	beforeEach(() => {
		writeStorage({ accounts: EMAILS.map((email) => stored(email, email[0] as string)) });
		for (const email of EMAILS) usageByToken.set(creds(email[0] as string).access, usage(10, 10));
	});

	/** One session: a new manager (pi makes one per session), two turns, then the session ends. */
	async function session(): Promise<string[]> {
		const manager = createManager();
		manager.setRotationSettings({ ...manager.getRotationSettings(), strategy: "round-robin" });
		await manager.loadPiAuth();
		const turns: string[] = [];
		for (let turn = 0; turn < 2; turn++) {
			turns.push((await manager.activateBestAccount({ sticky: true }))?.email ?? "none");
		}
		manager.cancelBackgroundWork();
		return turns;
	}

	it("each new session goes on after the account the last one used, and keeps it", async () => {
		const sessions: string[][] = [];
		for (let i = 0; i < 5; i++) sessions.push(await session());
		expect(sessions).toEqual([
			["a@x.com", "a@x.com"],
			["b@x.com", "b@x.com"],
			["c@x.com", "c@x.com"],
			["d@x.com", "d@x.com"],
			["a@x.com", "a@x.com"],
		]);
	});

	it("does not get stuck on pi's own login, which is never saved", async () => {
		piAuth = { identifier: "pi@x.com", credentials: creds("pi") };
		usageByToken.set(creds("pi").access, usage(10, 10));
		const first: string[] = [];
		for (let i = 0; i < 6; i++) first.push((await session())[0] as string);
		expect(first).toEqual(["a@x.com", "b@x.com", "c@x.com", "d@x.com", "a@x.com", "b@x.com"]);
		expect(readFileSync(file, "utf8")).not.toContain("pi@x.com");
	});
});

describe("rotation settings changed in another pi window (B7)", () => {
	it("are in force from the next choice on, and shown by getRotationSettings", async () => {
		writeStorage({ accounts: [stored("a@x.com", "a"), stored("b@x.com", "b")] });
		usageByToken.set(creds("a").access, usage(40, 40));
		usageByToken.set(creds("b").access, usage(10, 10));
		const manager = createManager();
		expect(manager.loadRotationSettings().proactiveSwitchPercent).toBe(90);
		await manager.refreshUsageForAllAccounts();
		expect((await manager.activateBestAccount({ sticky: true }))?.email).toBe("b@x.com");

		// Another window saves fill-first and a proactive switch at 95%.
		const other = manager.getRotationSettings();
		saveRotationSettings({ ...other, proactiveSwitchPercent: 95 }, ["proactiveSwitchPercent"]);
		expect(manager.getRotationSettings().proactiveSwitchPercent).toBe(95);
		saveRotationSettings({ ...other, strategy: "fill-first" }, ["strategy"]);
		// b@x.com passes 90% (the old threshold) but not 95%: kept.
		manager.recordUsage("b@x.com", { primary: { usedPercent: 92, resetAt: clock + HOUR } });
		expect((await manager.activateBestAccount({ sticky: true }))?.email).toBe("b@x.com");
		expect(manager.getRotationSettings()).toMatchObject({
			strategy: "fill-first",
			proactiveSwitchPercent: 95,
		});
	});

	it("a damaged file keeps the settings in force, with one warning", async () => {
		const manager = createManager();
		const warnings: string[] = [];
		manager.setWarningHandler((message) => warnings.push(message));
		manager.loadRotationSettings();
		saveRotationSettings({ ...manager.getRotationSettings(), retryCount: 3 }, ["retryCount"]);
		expect(manager.getRotationSettings().retryCount).toBe(3);
		writeFileSync(join(dir, "settings.json"), "{ not json");
		expect(manager.getRotationSettings().retryCount).toBe(3);
		expect(manager.getRotationSettings().retryCount).toBe(3);
		expect(warnings).toEqual([expect.stringContaining("cannot be read")]);
	});

	it("are not followed before they were read from the file", () => {
		const manager = createManager();
		manager.setRotationSettings({ ...manager.getRotationSettings(), strategy: "round-robin" });
		saveRotationSettings({ ...manager.getRotationSettings(), retryCount: 3 }, ["retryCount"]);
		expect(manager.getRotationSettings()).toMatchObject({ strategy: "round-robin", retryCount: 5 });
	});
});

describe("a session's first choice made blind", () => {
	let random: ReturnType<typeof vi.fn<() => number>>;
	afterEach(() => random.mockRestore());

	beforeEach(() => {
		random = vi.spyOn(Math, "random");
		writeStorage({
			accounts: [stored("a@x.com", "a"), stored("b@x.com", "b"), stored("c@x.com", "c")],
		});
	});

	it("is chosen again once, at the next turn, when the others' usage is known by then", async () => {
		const slowUsage = deferred<void>();
		fetchUsage.mockImplementation(async (token) => {
			await slowUsage.promise;
			const known = usageByToken.get(token);
			if (!known) throw new Error("HTTP 503");
			return known;
		});
		random.mockReturnValue(0);
		const manager = createManager();
		// Nothing known after the short wait: a random pick.
		expect((await manager.activateBestAccount({ sticky: true }))?.email).toBe("a@x.com");

		// The first answers: a@x.com is the busiest.
		usageByToken.set(creds("a").access, usage(70, 70));
		usageByToken.set(creds("b").access, usage(10, 10));
		usageByToken.set(creds("c").access, usage(30, 30));
		slowUsage.resolve();
		await vi.waitFor(() => expect(manager.getCachedUsage("c@x.com")).toBeDefined());
		expect((await manager.activateBestAccount({ sticky: true }))?.email).toBe("b@x.com");

		// Once only: from now on the session keeps its account as usual.
		manager.recordUsage("b@x.com", { primary: { usedPercent: 50, resetAt: clock + HOUR } });
		manager.recordUsage("c@x.com", { primary: { usedPercent: 1, resetAt: clock + HOUR } });
		expect((await manager.activateBestAccount({ sticky: true }))?.email).toBe("b@x.com");
	});

	it("is kept when the next turn still knows nothing of the others", async () => {
		fetchUsage.mockImplementation(async () => {
			throw new Error("HTTP 503");
		});
		random.mockReturnValue(0.99);
		const manager = createManager();
		expect((await manager.activateBestAccount({ sticky: true }))?.email).toBe("c@x.com");
		manager.recordUsage("c@x.com", { primary: { usedPercent: 70, resetAt: clock + HOUR } });
		expect((await manager.activateBestAccount({ sticky: true }))?.email).toBe("c@x.com");
		// The chance is spent: usage of the others known later does not move the session.
		manager.recordUsage("a@x.com", { primary: { usedPercent: 1, resetAt: clock + HOUR } });
		expect((await manager.activateBestAccount({ sticky: true }))?.email).toBe("c@x.com");
	});
});
