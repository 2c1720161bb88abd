// What the account panel shows about accounts (SPEC A8 + issue 3): summaries, counts, the usage
// bars, and the status line built from a summary (a fake account manager holds the state).
import { describe, expect, it } from "vitest";
import type { AccountManager } from "../account-manager.ts";
import {
	formatAccountCounts,
	formatStatusLine,
	formatUsageBar,
	summarizeAccounts,
} from "../account-status.ts";
import type { Account } from "../storage.ts";
import type { CodexUsageSnapshot } from "../usage.ts";

const NOW = 1_767_225_600_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function acct(email: string, extra: Partial<Account> = {}): Account {
	return { email, accessToken: "at", refreshToken: "rt", expiresAt: NOW + DAY, ...extra };
}

function fakeManager(
	accounts: Account[],
	options: {
		active?: string;
		manual?: string;
		piAuth?: string;
		usage?: Record<string, CodexUsageSnapshot>;
	} = {},
): AccountManager {
	const find = (email?: string) => accounts.find((a) => a.email === email);
	return {
		getAccounts: () => accounts,
		getActiveAccount: () => find(options.manual) ?? find(options.active) ?? accounts[0],
		getManualAccount: () => find(options.manual),
		isPiAuthAccount: (a: Account) => a.email === options.piAuth,
		getCachedUsage: (email: string) => options.usage?.[email],
	} as unknown as AccountManager;
}

const USAGE: CodexUsageSnapshot = {
	primary: { usedPercent: 10.4, resetAt: NOW + 2 * HOUR },
	secondary: { usedPercent: 20, resetAt: NOW + 3 * DAY },
	fetchedAt: NOW,
};
const UNTOUCHED: CodexUsageSnapshot = {
	primary: { usedPercent: 0, resetAt: NOW + HOUR / 2 },
	secondary: { usedPercent: 0, resetAt: NOW + 50 * HOUR },
	fetchedAt: NOW,
};

describe("formatStatusLine", () => {
	it("formats from a summary too", () => {
		expect(formatStatusLine("w", ["quota", "untouched"], UNTOUCHED, NOW)).toBe(
			"w (quota, untouched) - 5h 0% reset:in 30m | weekly 0% reset:in 2d",
		);
	});
});

describe("summarizeAccounts", () => {
	it("collects what the panel shows about each account", () => {
		const manager = fakeManager(
			[
				acct("a@x.com"),
				acct("b@x.com", { needsReauth: true }),
				acct("c@x.com", { accessToken: "" }),
				acct("d@x.com", { codexNotIncluded: true }),
			],
			{ active: "b@x.com", usage: { "a@x.com": USAGE } },
		);
		expect(summarizeAccounts(manager, NOW)).toEqual([
			{
				email: "a@x.com",
				tags: [],
				usage: USAGE,
				isActive: false,
				isPlaceholder: false,
				needsReauth: false,
				codexNotIncluded: false,
			},
			{
				email: "b@x.com",
				tags: ["active", "needs reauth"],
				usage: undefined,
				isActive: true,
				isPlaceholder: false,
				needsReauth: true,
				codexNotIncluded: false,
			},
			{
				email: "c@x.com",
				tags: ["placeholder"],
				usage: undefined,
				isActive: false,
				isPlaceholder: true,
				needsReauth: false,
				codexNotIncluded: false,
			},
			{
				email: "d@x.com",
				tags: ["no codex"],
				usage: undefined,
				isActive: false,
				isPlaceholder: false,
				needsReauth: false,
				codexNotIncluded: true,
			},
		]);
	});
});

describe("formatAccountCounts", () => {
	const summary = (changes: { needsReauth?: boolean; isPlaceholder?: boolean } = {}) => ({
		email: "x",
		tags: [],
		usage: undefined,
		isActive: false,
		isPlaceholder: false,
		needsReauth: false,
		codexNotIncluded: false,
		...changes,
	});

	it("names the accounts, and only the counts that are not zero", () => {
		expect(formatAccountCounts([])).toBe("0 accounts");
		expect(formatAccountCounts([summary()])).toBe("1 account");
		expect(
			formatAccountCounts([
				summary({ needsReauth: true }),
				summary({ needsReauth: true, isPlaceholder: true }),
				summary({ isPlaceholder: true }),
			]),
		).toBe("3 accounts · 2 need reauth · 2 placeholders");
		expect(formatAccountCounts([summary({ isPlaceholder: true }), summary()])).toBe(
			"2 accounts · 1 placeholder",
		);
	});
});

describe("formatUsageBar", () => {
	it.each([
		[0, "▕░░░░░░░░░░▏"],
		[4, "▕░░░░░░░░░░▏"],
		[5, "▕█░░░░░░░░░▏"],
		[50, "▕█████░░░░░▏"],
		[100, "▕██████████▏"],
		[140, "▕██████████▏"],
		[-5, "▕░░░░░░░░░░▏"],
		[undefined, "▕░░░░░░░░░░▏"],
		[Number.NaN, "▕░░░░░░░░░░▏"],
	])("%s%% → %s", (percent, bar) => {
		expect(formatUsageBar(percent)).toBe(bar);
	});

	it("takes a width", () => {
		expect(formatUsageBar(50, 4)).toBe("▕██░░▏");
	});
});
