// Session life cycle: what happens when pi starts, replaces or ends a session. Start-up never
// makes a request wait for usage fetches: the ready gate opens as soon as the accounts are
// known, and usage is refreshed in the background.
import type { AccountManager } from "./account-manager.ts";
import { normalizeUnknownError } from "./provider-utils.ts";

type WarningHandler = (message: string) => void;

/** Loads what a request needs (accounts, pi's login) and opens the ready gate. */
export async function prepareAccounts(accountManager: AccountManager): Promise<void> {
	accountManager.beginInitialization();
	try {
		accountManager.reloadFromDisk();
		await accountManager.loadPiAuth();
	} catch (error) {
		accountManager.warn(`Multicodex: loading accounts failed: ${normalizeUnknownError(error)}`);
	} finally {
		accountManager.markReady();
	}
}

/** Warns once per session about accounts that need a new login, with the repair command. */
export function warnAboutReauth(accountManager: AccountManager, warn: WarningHandler): void {
	const needsReauth = accountManager.getAccountsNeedingReauth();
	if (needsReauth.length === 0) return;
	const hints = needsReauth.map((a) => `${a.email} (${accountManager.repairCommandFor(a)})`);
	warn(`Multicodex: ${needsReauth.length} account(s) need re-authentication: ${hints.join(", ")}`);
}

/** A manual pin stays while its account is usable; otherwise it is cleared (A6). */
export function keepOrClearManualPin(accountManager: AccountManager): boolean {
	if (accountManager.getAvailableManualAccount()) return true;
	if (accountManager.hasManualAccount()) accountManager.clearManualAccount();
	return false;
}

/** Background work after start with a UI: usage of every account, then the best account. */
export async function refreshAndActivateBestAccount(
	accountManager: AccountManager,
	isCancelled: () => boolean,
): Promise<void> {
	await accountManager.refreshUsageForAllAccounts();
	if (isCancelled() || keepOrClearManualPin(accountManager)) return;
	// Sticky: when a request already chose an account in this session, keep it.
	await accountManager.activateBestAccount({ sticky: true });
}
