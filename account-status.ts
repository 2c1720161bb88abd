// Plain-text descriptions of accounts: the tags, the one-line status A8 prints, the summaries
// and usage bars the account panel shows, and the "Now using" line of a pick or a login.
import type { AccountManager } from "./account-manager.ts";
import type { Account } from "./storage.ts";
import { type CodexUsageSnapshot, formatResetAt, isUsageUntouched } from "./usage.ts";

export function isPlaceholderAccount(account: Account): boolean {
	return !account.accessToken || !account.refreshToken || account.expiresAt <= 0;
}

/**
 * Tags in A8's order: active, manual, pi auth, needs reauth, no codex (its plan does not include
 * Codex, B3), placeholder, quota, untouched.
 */
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
	if (account.codexNotIncluded) tags.push("no codex");
	if (isPlaceholderAccount(account)) tags.push("placeholder");
	if ((account.quotaExhaustedUntil ?? 0) > now) tags.push("quota");
	if (isUsageUntouched(accountManager.getCachedUsage(account.email))) tags.push("untouched");
	return tags;
}

function percentLabel(value: number | undefined): string {
	return value === undefined ? "unknown" : `${Math.round(value)}%`;
}

/** `5h N% reset:… | weekly N% reset:…` */
export function formatUsageText(usage: CodexUsageSnapshot | undefined, now = Date.now()): string {
	return (
		`5h ${percentLabel(usage?.primary?.usedPercent)} reset:${formatResetAt(usage?.primary?.resetAt, now)}` +
		` | weekly ${percentLabel(usage?.secondary?.usedPercent)} reset:${formatResetAt(usage?.secondary?.resetAt, now)}`
	);
}

export function formatUsageSummary(
	accountManager: AccountManager,
	account: Account,
	now = Date.now(),
): string {
	return formatUsageText(accountManager.getCachedUsage(account.email), now);
}

/** `<id> (<tags>) - 5h N% reset:… | weekly N% reset:…`; no tags, no parentheses. */
export function formatStatusLine(
	email: string,
	tags: readonly string[],
	usage: CodexUsageSnapshot | undefined,
	now = Date.now(),
): string {
	const suffix = tags.length > 0 ? ` (${tags.join(", ")})` : "";
	return `${email}${suffix} - ${formatUsageText(usage, now)}`;
}

export function formatAccountStatusLine(
	accountManager: AccountManager,
	account: Account,
	now = Date.now(),
): string {
	return formatStatusLine(
		account.email,
		getAccountTags(accountManager, account, now),
		accountManager.getCachedUsage(account.email),
		now,
	);
}

/** What the account panel and the account picker show about one account. */
export interface AccountSummary {
	email: string;
	tags: string[];
	usage: CodexUsageSnapshot | undefined;
	isActive: boolean;
	isPlaceholder: boolean;
	needsReauth: boolean;
	/** Its plan does not include Codex: not used until a new login or `reset quota`. */
	codexNotIncluded: boolean;
}

export function summarizeAccounts(
	accountManager: AccountManager,
	now = Date.now(),
): AccountSummary[] {
	const activeEmail = accountManager.getActiveAccount()?.email;
	return accountManager.getAccounts().map((account) => ({
		email: account.email,
		tags: getAccountTags(accountManager, account, now),
		usage: accountManager.getCachedUsage(account.email),
		isActive: account.email === activeEmail,
		isPlaceholder: isPlaceholderAccount(account),
		needsReauth: Boolean(account.needsReauth),
		codexNotIncluded: Boolean(account.codexNotIncluded),
	}));
}

/** `3 accounts · 1 need reauth · 1 placeholder` (zero counts left out). */
export function formatAccountCounts(accounts: readonly AccountSummary[]): string {
	const reauth = accounts.filter((a) => a.needsReauth).length;
	const placeholders = accounts.filter((a) => a.isPlaceholder).length;
	return [
		`${accounts.length} account${accounts.length === 1 ? "" : "s"}`,
		reauth > 0 ? `${reauth} need reauth` : undefined,
		placeholders > 0 ? `${placeholders} placeholder${placeholders === 1 ? "" : "s"}` : undefined,
	]
		.filter(Boolean)
		.join(" · ");
}

const BAR_FULL = "█";
const BAR_EMPTY = "░";

/** `▕████░░░░░░▏`: `filledPercent` of `width` cells filled; unknown leaves it empty. */
export function formatUsageBar(filledPercent: number | undefined, width = 10): string {
	const filled =
		filledPercent === undefined || !Number.isFinite(filledPercent)
			? 0
			: Math.round((Math.min(100, Math.max(0, filledPercent)) / 100) * width);
	return `▕${BAR_FULL.repeat(filled)}${BAR_EMPTY.repeat(width - filled)}▏`;
}

/** A moment as local time: `14:05` within a day, else `2026-01-03 14:05`. */
function formatLocalTime(at: number, now: number): string {
	const date = new Date(at);
	const pad = (n: number) => String(n).padStart(2, "0");
	const clock = `${pad(date.getHours())}:${pad(date.getMinutes())}`;
	if (at - now < 86_400_000) return clock;
	return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${clock}`;
}

/**
 * A8's `Now using <id>`, saying so when the account is cooling down: the pin does not make a
 * request go to an account that is out of quota; such a request goes to another account, and the
 * pin is cleared then (the pinned account failed, A4).
 */
export function describeNowUsing(account: Account, now: number): string {
	const until = account.quotaExhaustedUntil ?? 0;
	if (until <= now) return `Now using ${account.email}`;
	return (
		`Now using ${account.email} (out of quota until ${formatLocalTime(until, now)}, ` +
		`${formatResetAt(until, now)}: a request before then goes to another account and ends this pick)`
	);
}
