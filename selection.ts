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
