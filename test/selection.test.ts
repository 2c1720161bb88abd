// SPEC A3: which account a request gets (pure, with injected `now` and `random`).
import { describe, expect, it } from "vitest";
import {
	type ChooseOptions,
	chooseAccount,
	isAccountAvailable,
	pickBestAccount,
} from "../selection.ts";
import type { Account } from "../storage.ts";
import type { CodexUsageSnapshot } from "../usage.ts";

const NOW = 1_767_225_600_000;
const HOUR = 3_600_000;

function account(email: string, extra: Partial<Account> = {}): Account {
	return {
		email,
		accessToken: `at-${email}`,
		refreshToken: `rt-${email}`,
		expiresAt: NOW + HOUR,
		...extra,
	};
}

function usage(
	primaryUsed: number | undefined,
	secondaryUsed: number | undefined,
	weeklyResetAt?: number,
): CodexUsageSnapshot {
	return {
		primary:
			primaryUsed === undefined ? undefined : { usedPercent: primaryUsed, resetAt: NOW + HOUR },
		secondary:
			secondaryUsed === undefined && weeklyResetAt === undefined
				? undefined
				: { usedPercent: secondaryUsed, resetAt: weeklyResetAt },
		fetchedAt: NOW,
	};
}

function pick(
	accounts: Account[],
	usageEntries: Array<[string, CodexUsageSnapshot]>,
	options: { exclude?: string[]; random?: () => number } = {},
): string | undefined {
	return pickBestAccount(accounts, new Map(usageEntries), {
		now: NOW,
		excludeEmails: options.exclude ? new Set(options.exclude) : undefined,
		random: options.random ?? (() => 0),
	})?.email;
}

describe("isAccountAvailable", () => {
	it("is available without flag or cooldown", () => {
		expect(isAccountAvailable(account("a"), NOW)).toBe(true);
		expect(isAccountAvailable(account("a", { quotaExhaustedUntil: 0 }), NOW)).toBe(true);
	});

	it("is unavailable when it needs re-authentication", () => {
		expect(isAccountAvailable(account("a", { needsReauth: true }), NOW)).toBe(false);
	});

	it("is unavailable during a cooldown and available once it has passed", () => {
		expect(isAccountAvailable(account("a", { quotaExhaustedUntil: NOW + 1 }), NOW)).toBe(false);
		expect(isAccountAvailable(account("a", { quotaExhaustedUntil: NOW }), NOW)).toBe(true);
		expect(isAccountAvailable(account("a", { quotaExhaustedUntil: NOW - 1 }), NOW)).toBe(true);
	});

	it("is unavailable, for good, when its plan does not include Codex", () => {
		expect(isAccountAvailable(account("a", { codexNotIncluded: true }), NOW)).toBe(false);
		expect(
			isAccountAvailable(account("a", { codexNotIncluded: true }), NOW + 365 * 24 * HOUR),
		).toBe(false);
		expect(
			isAccountAvailable(
				account("a", { codexNotIncluded: true, quotaExhaustedUntil: NOW - 1 }),
				NOW,
			),
		).toBe(false);
		expect(isAccountAvailable(account("a", { codexNotIncluded: false }), NOW)).toBe(true);
		expect(
			pick(
				[account("a", { codexNotIncluded: true }), account("b")],
				[
					["a", usage(0, 0)],
					["b", usage(90, 90)],
				],
			),
		).toBe("b");
		expect(pick([account("a", { codexNotIncluded: true })], [])).toBeUndefined();
	});

	it("stays unavailable when flagged even after the cooldown", () => {
		expect(
			isAccountAvailable(account("a", { needsReauth: true, quotaExhaustedUntil: NOW - 1 }), NOW),
		).toBe(false);
	});
});

describe("pickBestAccount", () => {
	it("returns undefined when nothing is available", () => {
		expect(pick([], [])).toBeUndefined();
		expect(
			pick(
				[account("a", { needsReauth: true }), account("b", { quotaExhaustedUntil: NOW + HOUR })],
				[],
			),
		).toBeUndefined();
		expect(pick([account("a")], [], { exclude: ["a"] })).toBeUndefined();
	});

	it("skips flagged, cooling down and excluded accounts even when their usage is best", () => {
		const accounts = [
			account("reauth", { needsReauth: true }),
			account("cooling", { quotaExhaustedUntil: NOW + HOUR }),
			account("excluded"),
			account("ok"),
		];
		const known: Array<[string, CodexUsageSnapshot]> = [
			["reauth", usage(0, 0, NOW + HOUR)],
			["cooling", usage(0, 0, NOW + HOUR)],
			["excluded", usage(0, 0, NOW + HOUR)],
			["ok", usage(90, 90, NOW + HOUR)],
		];
		expect(pick(accounts, known, { exclude: ["excluded"] })).toBe("ok");
	});

	it("uses an account whose cooldown has passed", () => {
		const accounts = [account("a", { quotaExhaustedUntil: NOW - 1 }), account("b")];
		expect(
			pick(accounts, [
				["a", usage(10, 10)],
				["b", usage(50, 50)],
			]),
		).toBe("a");
	});

	it("prefers an untouched account over one with less weekly time left", () => {
		const accounts = [account("used"), account("fresh")];
		expect(
			pick(accounts, [
				["used", usage(1, 1, NOW + HOUR)],
				["fresh", usage(0, 0, NOW + 100 * HOUR)],
			]),
		).toBe("fresh");
	});

	it("among untouched accounts takes the earliest weekly reset", () => {
		const accounts = [account("late"), account("early"), account("middle")];
		const known: Array<[string, CodexUsageSnapshot]> = [
			["late", usage(0, 0, NOW + 90 * HOUR)],
			["early", usage(0, 0, NOW + 10 * HOUR)],
			["middle", usage(0, 0, NOW + 50 * HOUR)],
		];
		expect(pick(accounts, known)).toBe("early");
		expect(pick([...accounts].reverse(), known)).toBe("early");
	});

	it("does not count an account with one unknown window as untouched", () => {
		// "half" would win on max used % (0, the larger known value) and on weekly reset, but
		// only an account with both windows known at 0 % is untouched.
		const accounts = [account("half"), account("fresh")];
		expect(
			pick(accounts, [
				["half", usage(0, undefined, NOW + HOUR)],
				["fresh", usage(0, 0, NOW + 100 * HOUR)],
			]),
		).toBe("fresh");
	});

	it("uses the larger known window as max used % when the other is unknown", () => {
		const accounts = [account("half"), account("low")];
		expect(
			pick(accounts, [
				["half", usage(3, undefined)],
				["low", usage(5, 5, NOW + HOUR)],
			]),
		).toBe("half");
	});

	it("otherwise takes the lowest max used %", () => {
		const accounts = [account("a"), account("b"), account("c")];
		const known: Array<[string, CodexUsageSnapshot]> = [
			["a", usage(10, 60, NOW + HOUR)],
			["b", usage(45, 40, NOW + 200 * HOUR)],
			["c", usage(70, 5, NOW + HOUR)],
		];
		expect(pick(accounts, known)).toBe("b");
		expect(pick([...accounts].reverse(), known)).toBe("b");
	});

	it("counts unknown usage as 100 %", () => {
		const accounts = [account("unknown"), account("high")];
		const known: Array<[string, CodexUsageSnapshot]> = [
			["unknown", { fetchedAt: NOW }],
			["high", usage(95, 95, NOW + 100 * HOUR)],
		];
		expect(pick(accounts, known)).toBe("high");
		expect(pick([...accounts].reverse(), known)).toBe("high");
	});

	it("breaks ties by earliest weekly reset", () => {
		const accounts = [account("later"), account("sooner")];
		const known: Array<[string, CodexUsageSnapshot]> = [
			["later", usage(30, 30, NOW + 80 * HOUR)],
			["sooner", usage(30, 20, NOW + 8 * HOUR)],
		];
		expect(pick(accounts, known)).toBe("sooner");
		expect(pick([...accounts].reverse(), known)).toBe("sooner");
	});

	it("sorts an unknown weekly reset last in a tie", () => {
		const accounts = [account("noreset"), account("reset")];
		const known: Array<[string, CodexUsageSnapshot]> = [
			["noreset", usage(30, 30)],
			["reset", usage(30, 30, NOW + 150 * HOUR)],
		];
		expect(pick(accounts, known)).toBe("reset");
		expect(pick([...accounts].reverse(), known)).toBe("reset");
	});

	it("ignores accounts without cached usage while some usage is known", () => {
		const accounts = [account("nousage"), account("known")];
		expect(pick(accounts, [["known", usage(99, 99, NOW + HOUR)]], { random: () => 0 })).toBe(
			"known",
		);
	});

	it("falls back to a random available account when no usage is known", () => {
		const accounts = [
			account("a"),
			account("flagged", { needsReauth: true }),
			account("b"),
			account("excluded"),
			account("c"),
		];
		const options = (random: () => number) => ({ exclude: ["excluded"], random });
		expect(
			pick(
				accounts,
				[],
				options(() => 0),
			),
		).toBe("a");
		expect(
			pick(
				accounts,
				[],
				options(() => 0.5),
			),
		).toBe("b");
		expect(
			pick(
				accounts,
				[],
				options(() => 0.999),
			),
		).toBe("c");
	});

	it("falls back to random when the only usage known is for unavailable accounts", () => {
		const accounts = [
			account("cooling", { quotaExhaustedUntil: NOW + HOUR }),
			account("x"),
			account("y"),
		];
		const picked = pick(accounts, [["cooling", usage(0, 0, NOW + HOUR)]], { random: () => 0.9 });
		expect(picked).toBe("y");
	});
});

describe("chooseAccount: round-robin in a new session", () => {
	const accounts = ["a", "b", "c", "d", "pi"].map((email) => account(email));
	const choose = (options: ChooseOptions) =>
		chooseAccount(accounts, new Map(), { now: NOW, strategy: "round-robin", ...options })?.email;

	it("goes on after the account the last session used", () => {
		expect(choose({})).toBe("a");
		expect(choose({ previousEmail: "b" })).toBe("c");
		expect(choose({ previousEmail: "pi" })).toBe("a");
		expect(choose({ previousEmail: "gone" })).toBe("a");
	});

	it("goes on after the current account within a session, whatever the last session used", () => {
		expect(choose({ currentEmail: "c", previousEmail: "a", excludeEmails: new Set(["c"]) })).toBe(
			"d",
		);
	});

	it("passes over the account that is never saved while another is usable", () => {
		expect(choose({ previousEmail: "d", unsavedEmail: "pi" })).toBe("a");
		expect(
			choose({
				previousEmail: "d",
				unsavedEmail: "pi",
				excludeEmails: new Set(["a", "b", "c", "d"]),
			}),
		).toBe("pi");
		// Within a session it takes its turn like any other.
		expect(
			choose({
				currentEmail: "d",
				previousEmail: "d",
				unsavedEmail: "pi",
				excludeEmails: new Set(["d"]),
			}),
		).toBe("pi");
	});
});
