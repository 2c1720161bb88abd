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

/** Background work after start: usage of every account, re-auth warning, best account. */
export async function refreshAndActivateBestAccount(
	accountManager: AccountManager,
	warn: WarningHandler,
	isCancelled: () => boolean,
): Promise<void> {
	await accountManager.refreshUsageForAllAccounts();
	if (isCancelled()) return;
	const needsReauth = accountManager.getAccountsNeedingReauth();
	if (needsReauth.length > 0) {
		const hints = needsReauth.map((a) => `${a.email} (${accountManager.repairCommandFor(a)})`);
		warn(
			`Multicodex: ${needsReauth.length} account(s) need re-authentication: ${hints.join(", ")}`,
		);
	}
	if (accountManager.getAvailableManualAccount()) return;
	if (accountManager.hasManualAccount()) accountManager.clearManualAccount();
	// Sticky: when a request already chose an account in this session, keep it.
	await accountManager.activateBestAccount({ sticky: true });
}
