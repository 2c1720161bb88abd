// SPEC A3/B6: chooseAccount (strategies, stickiness, proactive switching) and pickBestAccount
// give exactly the answers of the straightforward filter-and-compare version they replaced,
// on seeded random account lists (flags, cooldowns, exclusions, partial and missing usage).
import { describe, expect, it } from "vitest";
import {
	type ChooseOptions,
	chooseAccount,
	hasSeveralUsableAccounts,
	isAccountAvailable,
	type PickOptions,
	pickBestAccount,
	type RotationStrategyName,
} from "../selection.ts";
import type { Account } from "../storage.ts";
import {
	type CodexUsageSnapshot,
	getMaxUsedPercent,
	getWeeklyResetAt,
	isUsageUntouched,
} from "../usage.ts";
import { createPrng, type Prng } from "./support/prng.ts";

const NOW = 1_767_225_600_000;
const HOUR = 3_600_000;
const SEED = 0x5e1e_c7;

// -- the reference: the plain version, one filter and one comparison loop at a time -------

function referencePickRandom<T>(items: T[], random: () => number): T | undefined {
	if (items.length === 0) return undefined;
	return items[Math.floor(random() * items.length)];
}

function referenceLowestUsage(accounts: Account[], usage: Map<string, CodexUsageSnapshot>) {
	let best: { account: Account; usedPercent: number; resetAt: number } | undefined;
	for (const account of accounts) {
		const snapshot = usage.get(account.email);
		const usedPercent = getMaxUsedPercent(snapshot) ?? 100;
		const resetAt = getWeeklyResetAt(snapshot) ?? Number.MAX_SAFE_INTEGER;
		if (
			!best ||
			usedPercent < best.usedPercent ||
			(usedPercent === best.usedPercent && resetAt < best.resetAt)
		) {
			best = { account, usedPercent, resetAt };
		}
	}
	return best?.account;
}

function referenceEarliestReset(accounts: Account[], usage: Map<string, CodexUsageSnapshot>) {
	let best: { account: Account; resetAt: number; usedPercent: number } | undefined;
	for (const account of accounts) {
		const snapshot = usage.get(account.email);
		const resetAt = getWeeklyResetAt(snapshot) ?? Number.MAX_SAFE_INTEGER;
		const usedPercent = getMaxUsedPercent(snapshot) ?? 100;
		if (
			!best ||
			resetAt < best.resetAt ||
			(resetAt === best.resetAt && usedPercent < best.usedPercent)
		) {
			best = { account, resetAt, usedPercent };
		}
	}
	return best?.account;
}

function referencePickBest(
	accounts: Account[],
	usage: Map<string, CodexUsageSnapshot>,
	options: PickOptions,
): Account | undefined {
	const now = options.now ?? Date.now();
	const available = accounts.filter(
		(a) => isAccountAvailable(a, now) && !options.excludeEmails?.has(a.email),
	);
	if (available.length === 0) return undefined;
	const withUsage = available.filter((a) => usage.has(a.email));
	const untouched = withUsage.filter((a) => isUsageUntouched(usage.get(a.email)));
	if (untouched.length > 0) return referenceLowestUsage(untouched, usage);
	return (
		referenceLowestUsage(withUsage, usage) ??
		referencePickRandom(available, options.random ?? Math.random)
	);
}

function referenceAboveThreshold(snapshot: CodexUsageSnapshot | undefined, threshold?: number) {
	if (threshold === undefined) return false;
	const used = getMaxUsedPercent(snapshot);
	return used !== undefined && used >= threshold;
}

function referenceByStrategy(
	all: Account[],
	candidates: Account[],
	usage: Map<string, CodexUsageSnapshot>,
	options: ChooseOptions,
	random: () => number,
): Account | undefined {
	const strategy = options.strategy ?? "lowest-usage";
	if (strategy === "fill-first") return candidates[0];
	if (strategy === "round-robin") {
		const start = all.findIndex((a) => a.email === options.currentEmail);
		for (let step = 1; step <= all.length; step++) {
			const next = all[(start + step + all.length) % all.length];
			if (next && candidates.includes(next)) return next;
		}
		return candidates[0];
	}
	const withUsage = candidates.filter((a) => usage.has(a.email));
	if (options.preferUntouched ?? true) {
		const untouched = withUsage.filter((a) => isUsageUntouched(usage.get(a.email)));
		if (untouched.length > 0) {
			return strategy === "earliest-reset"
				? referenceEarliestReset(untouched, usage)
				: referenceLowestUsage(untouched, usage);
		}
	}
	const picked =
		strategy === "earliest-reset"
			? referenceEarliestReset(withUsage, usage)
			: referenceLowestUsage(withUsage, usage);
	return picked ?? referencePickRandom(candidates, random);
}

function referenceChoose(
	accounts: Account[],
	usage: Map<string, CodexUsageSnapshot>,
	options: ChooseOptions,
): Account | undefined {
	const now = options.now ?? Date.now();
	const available = accounts.filter(
		(a) => isAccountAvailable(a, now) && !options.excludeEmails?.has(a.email),
	);
	if (available.length === 0) return undefined;
	const current = available.find((a) => a.email === options.currentEmail);
	if (
		current &&
		!referenceAboveThreshold(usage.get(current.email), options.proactiveSwitchPercent)
	) {
		return current;
	}
	const below = available.filter(
		(a) => !referenceAboveThreshold(usage.get(a.email), options.proactiveSwitchPercent),
	);
	if (current && below.length === 0) return current;
	const pool = below.length > 0 ? below : available;
	return referenceByStrategy(accounts, pool, usage, options, options.random ?? Math.random);
}

// -- random cases -------------------------------------------------------------------------

const STRATEGIES: (RotationStrategyName | undefined)[] = [
	undefined,
	"lowest-usage",
	"earliest-reset",
	"round-robin",
	"fill-first",
];

/** Few distinct values, so ties, untouched accounts and thresholds really happen. */
function randomWindow(random: Prng) {
	if (random.chance(0.15)) return undefined;
	return {
		usedPercent: random.chance(0.15) ? undefined : random.pick([0, 0, 10, 50, 80, 95, 100]),
		resetAt: random.chance(0.2) ? undefined : NOW + random.int(1, 4) * HOUR,
	};
}

function randomCase(random: Prng) {
	const count = random.int(0, 12);
	const accounts: Account[] = [];
	const usage = new Map<string, CodexUsageSnapshot>();
	for (let i = 0; i < count; i++) {
		// A repeated identifier now and then (pi's login next to a managed one in odd states).
		const email = random.chance(0.05) && i > 0 ? `a${i - 1}` : `a${i}`;
		accounts.push({
			email,
			accessToken: `at-${i}`,
			refreshToken: `rt-${i}`,
			expiresAt: NOW + HOUR,
			needsReauth: random.chance(0.1) ? true : undefined,
			quotaExhaustedUntil: random.chance(0.2) ? NOW + random.pick([-HOUR, 0, HOUR]) : undefined,
		});
		if (random.chance(0.75)) {
			usage.set(email, {
				primary: randomWindow(random),
				secondary: randomWindow(random),
				fetchedAt: NOW,
			});
		}
	}
	const excluded = new Set(accounts.filter(() => random.chance(0.2)).map((a) => a.email));
	const roll = random.next();
	const options: ChooseOptions = {
		now: NOW,
		excludeEmails: random.chance(0.5) ? excluded : undefined,
		strategy: random.pick(STRATEGIES),
		preferUntouched: random.pick([undefined, true, false]),
		currentEmail:
			accounts.length > 0 && random.chance(0.6)
				? random.pick(accounts).email
				: random.chance(0.1)
					? "gone@x.com"
					: undefined,
		proactiveSwitchPercent: random.chance(0.6) ? random.pick([50, 80, 95, 100]) : undefined,
	};
	return { accounts, usage, options, roll };
}

/** The same random draw for both versions, and how often each asked for one. */
function countingRandom(value: number) {
	const calls = { count: 0 };
	return {
		calls,
		random: () => {
			calls.count++;
			return value;
		},
	};
}

describe("chooseAccount and pickBestAccount against the plain version", () => {
	it("hasSeveralUsableAccounts: 20,000 random cases agree with counting usable accounts", () => {
		const random = createPrng(SEED + 2);
		for (let i = 0; i < 20_000; i++) {
			const { accounts, options } = randomCase(random);
			const usable = accounts.filter(
				(a) => isAccountAvailable(a, NOW) && !options.excludeEmails?.has(a.email),
			);
			const pick = { now: NOW, excludeEmails: options.excludeEmails };
			expect(hasSeveralUsableAccounts(accounts, pick), `case ${i}`).toBe(usable.length > 1);
		}
	});

	it("chooseAccount: 20,000 random cases give the same account", () => {
		const random = createPrng(SEED);
		for (let i = 0; i < 20_000; i++) {
			const { accounts, usage, options, roll } = randomCase(random);
			const ours = countingRandom(roll);
			const theirs = countingRandom(roll);
			const got = chooseAccount(accounts, usage, { ...options, random: ours.random });
			const want = referenceChoose(accounts, usage, { ...options, random: theirs.random });
			expect(got, `case ${i} (seed ${SEED})`).toBe(want);
			expect(ours.calls.count, `case ${i}: random draws`).toBe(theirs.calls.count);
		}
	});

	it("pickBestAccount: 20,000 random cases give the same account", () => {
		const random = createPrng(SEED + 1);
		for (let i = 0; i < 20_000; i++) {
			const { accounts, usage, options, roll } = randomCase(random);
			const ours = countingRandom(roll);
			const theirs = countingRandom(roll);
			const pick = { now: NOW, excludeEmails: options.excludeEmails };
			const got = pickBestAccount(accounts, usage, { ...pick, random: ours.random });
			const want = referencePickBest(accounts, usage, { ...pick, random: theirs.random });
			expect(got, `case ${i} (seed ${SEED + 1})`).toBe(want);
			expect(ours.calls.count, `case ${i}: random draws`).toBe(theirs.calls.count);
		}
	});
});

describe("chooseAccount", () => {
	const account = (email: string, extra: Partial<Account> = {}): Account => ({
		email,
		accessToken: `at-${email}`,
		refreshToken: `rt-${email}`,
		expiresAt: NOW + HOUR,
		...extra,
	});
	const used = (percent: number, weeklyResetIn = HOUR): CodexUsageSnapshot => ({
		primary: { usedPercent: percent, resetAt: NOW + HOUR },
		secondary: { usedPercent: percent, resetAt: NOW + weeklyResetIn },
		fetchedAt: NOW,
	});

	it("keeps the current account below the threshold, even when another has less usage", () => {
		const accounts = [account("a"), account("b")];
		const usage = new Map([
			["a", used(60)],
			["b", used(10)],
		]);
		const options = { now: NOW, currentEmail: "a", proactiveSwitchPercent: 80 };
		expect(chooseAccount(accounts, usage, options)?.email).toBe("a");
		usage.set("a", used(85));
		expect(chooseAccount(accounts, usage, options)?.email).toBe("b");
		// Every account past the threshold: stay rather than flap.
		usage.set("b", used(90));
		expect(chooseAccount(accounts, usage, options)?.email).toBe("a");
	});

	it("round-robin goes on after the current account and wraps around", () => {
		const accounts = [account("a"), account("b", { needsReauth: true }), account("c")];
		// The current account is past the threshold, so the strategy chooses.
		const usage = new Map([
			["a", used(90)],
			["c", used(10)],
		]);
		const options = { now: NOW, strategy: "round-robin" as const, proactiveSwitchPercent: 80 };
		expect(chooseAccount(accounts, usage, { ...options, currentEmail: "a" })?.email).toBe("c");
		expect(chooseAccount(accounts, usage, { ...options, currentEmail: "b" })?.email).toBe("c");
		const swapped = new Map([
			["a", used(10)],
			["c", used(90)],
		]);
		expect(chooseAccount(accounts, swapped, { ...options, currentEmail: "c" })?.email).toBe("a");
	});

	it("earliest-reset takes the soonest weekly reset, ties by lower usage", () => {
		const accounts = [account("late"), account("soon-high"), account("soon-low")];
		const usage = new Map([
			["late", used(10, 90 * HOUR)],
			["soon-high", used(60, 5 * HOUR)],
			["soon-low", used(40, 5 * HOUR)],
		]);
		expect(chooseAccount(accounts, usage, { now: NOW, strategy: "earliest-reset" })?.email).toBe(
			"soon-low",
		);
	});
});
