// Pure choice of an account for a request (SPEC A3, B6). Inputs include `now`; no I/O.
// One pass works out each account's figures once; the choice then only compares them, so a
// list of 1,000 accounts is chosen from in well under a millisecond.
import type { Account } from "./storage.ts";
import {
	type CodexUsageSnapshot,
	getMaxUsedPercent,
	getWeeklyResetAt,
	isUsageUntouched,
} from "./usage.ts";

export function isAccountAvailable(account: Account, now: number): boolean {
	if (account.needsReauth || account.codexNotIncluded) return false;
	return !account.quotaExhaustedUntil || account.quotaExhaustedUntil <= now;
}

export interface PickOptions {
	excludeEmails?: Set<string>;
	now?: number;
	random?: () => number;
}

export type RotationStrategyName = "lowest-usage" | "earliest-reset" | "round-robin" | "fill-first";

export interface ChooseOptions extends PickOptions {
	strategy?: RotationStrategyName;
	preferUntouched?: boolean;
	/** The account the session is on now: kept while it is usable (stickiness). */
	currentEmail?: string;
	/** Leave the current account once its max used % reaches this. */
	proactiveSwitchPercent?: number;
	/**
	 * The account the last session used (the saved `activeEmail`). With no current account (a new
	 * session), round-robin goes on after it, so that sessions take turns.
	 */
	previousEmail?: string;
	/**
	 * An account whose use is never saved (pi's own login). A new session's round-robin passes
	 * over it while another account is usable: the saved account names the one before it, so every
	 * new session would otherwise land on it again.
	 */
	unsavedEmail?: string;
}

/**
 * Whether more than one account is usable for this request (available, not excluded). With one
 * or none there is nothing to choose, so nothing to wait for either.
 */
export function hasSeveralUsableAccounts(accounts: Account[], options: PickOptions = {}): boolean {
	const now = options.now ?? Date.now();
	let usable = 0;
	for (const account of accounts) {
		if (!isAccountAvailable(account, now) || options.excludeEmails?.has(account.email)) continue;
		usable++;
		if (usable > 1) return true;
	}
	return false;
}

/** What the choice needs to know about one usable account. */
interface Candidate {
	account: Account;
	/** Position in the full list (round-robin goes on from the current account's). */
	index: number;
	hasUsage: boolean;
	isUntouched: boolean;
	/** Max used %, unknown counts as 100. */
	usedPercent: number;
	/** Weekly reset, unknown sorts last. */
	resetAt: number;
	isAboveThreshold: boolean;
}

/** The usable accounts (available, not excluded) with their figures, in list order. */
function collectCandidates(
	accounts: Account[],
	usageByEmail: Map<string, CodexUsageSnapshot>,
	options: ChooseOptions,
	now: number,
): { candidates: Candidate[]; currentIndex: number; previousIndex: number } {
	const threshold = options.proactiveSwitchPercent;
	const candidates: Candidate[] = [];
	let currentIndex = -1;
	let previousIndex = -1;
	for (let index = 0; index < accounts.length; index++) {
		const account = accounts[index] as Account;
		if (currentIndex < 0 && options.currentEmail !== undefined) {
			if (account.email === options.currentEmail) currentIndex = index;
		}
		if (previousIndex < 0 && options.previousEmail !== undefined) {
			if (account.email === options.previousEmail) previousIndex = index;
		}
		if (!isAccountAvailable(account, now) || options.excludeEmails?.has(account.email)) continue;
		const usage = usageByEmail.get(account.email);
		const maxUsed = getMaxUsedPercent(usage);
		candidates.push({
			account,
			index,
			hasUsage: usage !== undefined || usageByEmail.has(account.email),
			isUntouched: isUsageUntouched(usage),
			usedPercent: maxUsed ?? 100,
			resetAt: getWeeklyResetAt(usage) ?? Number.MAX_SAFE_INTEGER,
			isAboveThreshold: threshold !== undefined && maxUsed !== undefined && maxUsed >= threshold,
		});
	}
	return { candidates, currentIndex, previousIndex };
}

/** Lowest max used % first, ties by earliest weekly reset. */
function hasLowerUsage(a: Candidate, b: Candidate): boolean {
	return (
		a.usedPercent < b.usedPercent || (a.usedPercent === b.usedPercent && a.resetAt < b.resetAt)
	);
}

/** Earliest weekly reset first, ties by lower usage. */
function resetsEarlier(a: Candidate, b: Candidate): boolean {
	return a.resetAt < b.resetAt || (a.resetAt === b.resetAt && a.usedPercent < b.usedPercent);
}

/**
 * Round-robin: the next usable account after the current one in the full list, wrapping around.
 * A new session (no current account) goes on after the one the last session used.
 */
function pickNextInTurn(
	pool: Candidate[],
	currentIndex: number,
	previousIndex: number,
	options: ChooseOptions,
): Account | undefined {
	let turn = pool;
	let after = currentIndex;
	if (currentIndex < 0 && previousIndex >= 0) {
		after = previousIndex;
		const saved = pool.filter((c) => c.account.email !== options.unsavedEmail);
		if (saved.length > 0) turn = saved;
	}
	return (turn.find((c) => c.index > after) ?? turn[0])?.account;
}

/** Picks by the configured strategy among the accounts usable for this request. */
function pickByStrategy(
	pool: Candidate[],
	currentIndex: number,
	previousIndex: number,
	options: ChooseOptions,
): Account | undefined {
	const strategy = options.strategy ?? "lowest-usage";
	if (strategy === "fill-first") return pool[0]?.account;
	if (strategy === "round-robin") return pickNextInTurn(pool, currentIndex, previousIndex, options);
	const isBetter = strategy === "earliest-reset" ? resetsEarlier : hasLowerUsage;
	const preferUntouched = options.preferUntouched ?? true;
	let bestUntouched: Candidate | undefined;
	let bestWithUsage: Candidate | undefined;
	for (const candidate of pool) {
		if (!candidate.hasUsage) continue;
		if (!bestWithUsage || isBetter(candidate, bestWithUsage)) bestWithUsage = candidate;
		if (preferUntouched && candidate.isUntouched) {
			if (!bestUntouched || isBetter(candidate, bestUntouched)) bestUntouched = candidate;
		}
	}
	const picked = bestUntouched ?? bestWithUsage;
	if (picked) return picked.account;
	// No usage known for any of them: a random one.
	const random = options.random ?? Math.random;
	return pool[Math.floor(random() * pool.length)]?.account;
}

/**
 * A3's choice: among available accounts not excluded, the untouched one with the earliest
 * weekly reset, else the lowest max used % (ties by earliest weekly reset), else (no usage known)
 * a random one.
 */
export function pickBestAccount(
	accounts: Account[],
	usageByEmail: Map<string, CodexUsageSnapshot>,
	options?: PickOptions,
): Account | undefined {
	return chooseAccount(accounts, usageByEmail, {
		excludeEmails: options?.excludeEmails,
		now: options?.now,
		random: options?.random,
	});
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
	const { candidates, currentIndex, previousIndex } = collectCandidates(
		accounts,
		usageByEmail,
		options,
		now,
	);
	if (candidates.length === 0) return undefined;
	const current =
		currentIndex < 0 ? undefined : candidates.find((c) => c.account.email === options.currentEmail);
	if (current && !current.isAboveThreshold) return current.account;
	const belowThreshold = candidates.filter((c) => !c.isAboveThreshold);
	// Every account is past the threshold: switching would only flap, so stay.
	if (current && belowThreshold.length === 0) return current.account;
	const pool = belowThreshold.length > 0 ? belowThreshold : candidates;
	return pickByStrategy(pool, currentIndex, previousIndex, options);
}
