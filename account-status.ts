// Plain-text descriptions of accounts: the tags and the one-line status A8 prints.
import type { AccountManager } from "./account-manager.ts";
import type { Account } from "./storage.ts";
import { formatResetAt, isUsageUntouched } from "./usage.ts";

export function isPlaceholderAccount(account: Account): boolean {
	return !account.accessToken || !account.refreshToken || account.expiresAt <= 0;
}

/** Tags in A8's order: active, manual, pi auth, needs reauth, placeholder, quota, untouched. */
export function getAccountTags(
	accountManager: AccountManager,
	account: Account,
	now = Date.now(),
): string[] {
	const tags: string[] = [];
	if (accountManager.getActiveAccount()?.email === account.email) tags.push("active");
	if (accountManager.getManualAccount()?.email === account.email) tags.push("manual");
	if (accountManager.isPiAuthAccount(account)) tags.push("pi auth");
	if (account.needsReauth) tags.push("needs reauth");
	if (isPlaceholderAccount(account)) tags.push("placeholder");
	if ((account.quotaExhaustedUntil ?? 0) > now) tags.push("quota");
	if (isUsageUntouched(accountManager.getCachedUsage(account.email))) tags.push("untouched");
	return tags;
}

function percentLabel(value: number | undefined): string {
	return value === undefined ? "unknown" : `${Math.round(value)}%`;
}

export function formatUsageSummary(
	accountManager: AccountManager,
	account: Account,
	now = Date.now(),
): string {
	const usage = accountManager.getCachedUsage(account.email);
	return (
		`5h ${percentLabel(usage?.primary?.usedPercent)} reset:${formatResetAt(usage?.primary?.resetAt, now)}` +
		` | weekly ${percentLabel(usage?.secondary?.usedPercent)} reset:${formatResetAt(usage?.secondary?.resetAt, now)}`
	);
}

/** `<id> (<tags>) - 5h N% reset:… | weekly N% reset:…` */
export function formatAccountStatusLine(
	accountManager: AccountManager,
	account: Account,
	now = Date.now(),
): string {
	const tags = getAccountTags(accountManager, account, now);
	const suffix = tags.length > 0 ? ` (${tags.join(", ")})` : "";
	return `${account.email}${suffix} - ${formatUsageSummary(accountManager, account, now)}`;
}
