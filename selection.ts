// Pure choice of an account for a request (SPEC A3). Inputs include `now`; no I/O.
import type { Account } from "./storage.ts";
import {
	type CodexUsageSnapshot,
	getMaxUsedPercent,
	getWeeklyResetAt,
	isUsageUntouched,
} from "./usage.ts";

export function isAccountAvailable(account: Account, now: number): boolean {
	if (account.needsReauth) return false;
	return !account.quotaExhaustedUntil || account.quotaExhaustedUntil <= now;
}

function pickRandom<T>(items: T[], random: () => number): T | undefined {
	if (items.length === 0) return undefined;
	return items[Math.floor(random() * items.length)];
}

/** Lowest max used % first (unknown counts as 100), ties by earliest weekly reset. */
function pickLowestUsage(
	accounts: Account[],
	usageByEmail: Map<string, CodexUsageSnapshot>,
): Account | undefined {
	let best: { account: Account; usedPercent: number; resetAt: number } | undefined;
	for (const account of accounts) {
		const usage = usageByEmail.get(account.email);
		const usedPercent = getMaxUsedPercent(usage) ?? 100;
		const resetAt = getWeeklyResetAt(usage) ?? Number.MAX_SAFE_INTEGER;
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

export interface PickOptions {
	excludeEmails?: Set<string>;
	now?: number;
	random?: () => number;
}

export function pickBestAccount(
	accounts: Account[],
	usageByEmail: Map<string, CodexUsageSnapshot>,
	options?: PickOptions,
): Account | undefined {
	const now = options?.now ?? Date.now();
	const random = options?.random ?? Math.random;
	const available = accounts.filter(
		(account) => isAccountAvailable(account, now) && !options?.excludeEmails?.has(account.email),
	);
	if (available.length === 0) return undefined;
	const withUsage = available.filter((account) => usageByEmail.has(account.email));
	const untouched = withUsage.filter((account) =>
		isUsageUntouched(usageByEmail.get(account.email)),
	);
	if (untouched.length > 0) return pickLowestUsage(untouched, usageByEmail);
	return pickLowestUsage(withUsage, usageByEmail) ?? pickRandom(available, random);
}

export type RotationStrategyName = "lowest-usage" | "earliest-reset" | "round-robin" | "fill-first";

export interface ChooseOptions extends PickOptions {
	strategy?: RotationStrategyName;
	preferUntouched?: boolean;
	/** The account the session is on now: kept while it is usable (stickiness). */
	currentEmail?: string;
	/** Leave the current account once its max used % reaches this. */
	proactiveSwitchPercent?: number;
}

function isAboveThreshold(
	usage: CodexUsageSnapshot | undefined,
	threshold: number | undefined,
): boolean {
	if (threshold === undefined) return false;
	const used = getMaxUsedPercent(usage);
	return used !== undefined && used >= threshold;
}

/** Earliest weekly reset first (unknown last), ties by lower usage. */
function pickEarliestReset(
	accounts: Account[],
	usageByEmail: Map<string, CodexUsageSnapshot>,
): Account | undefined {
	let best: { account: Account; resetAt: number; usedPercent: number } | undefined;
	for (const account of accounts) {
		const usage = usageByEmail.get(account.email);
		const resetAt = getWeeklyResetAt(usage) ?? Number.MAX_SAFE_INTEGER;
		const usedPercent = getMaxUsedPercent(usage) ?? 100;
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

/** Picks by the configured strategy among accounts usable for this request. */
function pickByStrategy(
	all: Account[],
	candidates: Account[],
	usageByEmail: Map<string, CodexUsageSnapshot>,
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
	const withUsage = candidates.filter((a) => usageByEmail.has(a.email));
	if (options.preferUntouched ?? true) {
		const untouched = withUsage.filter((a) => isUsageUntouched(usageByEmail.get(a.email)));
		if (untouched.length > 0) {
			return strategy === "earliest-reset"
				? pickEarliestReset(untouched, usageByEmail)
				: pickLowestUsage(untouched, usageByEmail);
		}
	}
	const picked =
		strategy === "earliest-reset"
			? pickEarliestReset(withUsage, usageByEmail)
			: pickLowestUsage(withUsage, usageByEmail);
	return picked ?? pickRandom(candidates, random);
}

/**
 * The account for the next request (B6): the current one while it is available and below the
 * proactive threshold (no flapping between turns), else the strategy's pick, preferring
 * accounts below the threshold.
 */
export function chooseAccount(
	accounts: Account[],
	usageByEmail: Map<string, CodexUsageSnapshot>,
	options: ChooseOptions = {},
): Account | undefined {
	const now = options.now ?? Date.now();
	const available = accounts.filter(
		(account) => isAccountAvailable(account, now) && !options.excludeEmails?.has(account.email),
	);
	if (available.length === 0) return undefined;
	const current = available.find((a) => a.email === options.currentEmail);
	if (
		current &&
		!isAboveThreshold(usageByEmail.get(current.email), options.proactiveSwitchPercent)
	) {
		return current;
	}
	const belowThreshold = available.filter(
		(a) => !isAboveThreshold(usageByEmail.get(a.email), options.proactiveSwitchPercent),
	);
	// Every account is past the threshold: switching would only flap, so stay.
	if (current && belowThreshold.length === 0) return current;
	const pool = belowThreshold.length > 0 ? belowThreshold : available;
	return pickByStrategy(accounts, pool, usageByEmail, options, options.random ?? Math.random);
}
