// The account subcommands: accounts / use / show / refresh / reauth. With an identifier they
// act on that account (logins ask for the pasted code wherever pi has dialogs, RPC included);
// without one they open the account panel in the TUI, and elsewhere (RPC, print, json) answer
// with A8's lines. The panel loop reopens with fresh data after every change.
import type { ExtensionCommandContext } from "@mariozechner/pi-coding-agent";
import type { AccountManager } from "./account-manager.ts";
import { type AccountPanelModel, openAccountPanel } from "./account-panel.ts";
import { describeNowUsing, formatAccountStatusLine, summarizeAccounts } from "./account-status.ts";
import {
	type CommandDeps,
	failInScripts,
	hasCustomUi,
	NO_ACCOUNTS_MESSAGE,
	report,
	reportFailure,
} from "./command-output.ts";
import { loginAccount } from "./login.ts";
import { normalizeUnknownError } from "./provider-utils.ts";
import type { Account } from "./storage.ts";

/** The account with this identifier; failing that, the only one that matches ignoring case. */
export function findAccount(
	accountManager: AccountManager,
	identifier: string,
): Account | undefined {
	const exact = accountManager.getAccount(identifier);
	if (exact) return exact;
	const lower = identifier.toLowerCase();
	const matches = accountManager.getAccounts().filter((a) => a.email.toLowerCase() === lower);
	return matches.length === 1 ? matches[0] : undefined;
}

function describeError(accountManager: AccountManager, error: unknown): string {
	return accountManager.redact(normalizeUnknownError(error));
}

async function printStatusLines(ctx: ExtensionCommandContext, deps: CommandDeps): Promise<void> {
	const { accountManager } = deps;
	await accountManager.refreshUsageIfStale(accountManager.getAccounts());
	const accounts = accountManager.getAccounts();
	if (accounts.length === 0) {
		report(ctx, NO_ACCOUNTS_MESSAGE, "warning");
		return;
	}
	report(ctx, accounts.map((a) => formatAccountStatusLine(accountManager, a)).join("\n"));
}

/**
 * Pins a stored account after checking its login; logs in when it is unknown or broken, or when
 * its plan did not include Codex (a new login is how such an account is tried again).
 */
export async function useOrLogin(
	ctx: ExtensionCommandContext,
	deps: CommandDeps,
	identifier: string,
): Promise<void> {
	const { accountManager } = deps;
	const existing = findAccount(accountManager, identifier);
	if (existing?.codexNotIncluded) {
		report(
			ctx,
			`${existing.email} cannot use Codex (its ChatGPT plan did not include it). Starting login again.`,
			"warning",
		);
	} else if (existing) {
		try {
			await accountManager.ensureValidToken(existing);
			accountManager.setManualAccount(existing.email);
			const pinned = accountManager.getAccount(existing.email) ?? existing;
			const now = Date.now();
			const isCooling = (pinned.quotaExhaustedUntil ?? 0) > now;
			report(ctx, describeNowUsing(pinned, now), isCooling ? "warning" : "info");
			void deps.statusController.refreshFor(ctx);
			return;
		} catch (error) {
			report(
				ctx,
				`Stored login for ${existing.email} no longer works (${describeError(accountManager, error)}). Starting login again.`,
				"warning",
			);
		}
	}
	await loginAccount(ctx, deps, existing?.email ?? identifier);
}

async function refreshAccount(
	ctx: ExtensionCommandContext,
	deps: CommandDeps,
	identifier: string,
): Promise<void> {
	const { accountManager } = deps;
	const account = findAccount(accountManager, identifier);
	if (!account) {
		reportFailure(ctx, `Unknown account: ${identifier}`);
		return;
	}
	try {
		await accountManager.ensureValidToken(account);
	} catch (error) {
		reportFailure(ctx, `refresh ${account.email}: ${describeError(accountManager, error)}`);
		return;
	}
	await accountManager.refreshUsageForAccount(account, { force: true });
	const fresh = accountManager.getAccount(account.email) ?? account;
	report(ctx, `refreshed ${formatAccountStatusLine(accountManager, fresh)}`);
	void deps.statusController.refreshFor(ctx);
}

async function refreshAllAccounts(ctx: ExtensionCommandContext, deps: CommandDeps): Promise<void> {
	const { accountManager } = deps;
	if (accountManager.getAccounts().length === 0) {
		report(ctx, NO_ACCOUNTS_MESSAGE, "warning");
		return;
	}
	await accountManager.refreshUsageForAllAccounts({ force: true });
	const needsReauth = accountManager.getAccountsNeedingReauth().length;
	report(
		ctx,
		`refreshed ${accountManager.getAccounts().length} account(s); reauth needed=${needsReauth}`,
		needsReauth > 0 ? "warning" : "info",
	);
	// An account that needs a new login is what makes verify say WARN: scripts see it the same way.
	if (needsReauth > 0) failInScripts(ctx);
	void deps.statusController.refreshFor(ctx);
}

async function reauthAccount(
	ctx: ExtensionCommandContext,
	deps: CommandDeps,
	identifier: string,
): Promise<void> {
	const account = findAccount(deps.accountManager, identifier);
	if (!account) {
		report(ctx, `Unknown account: ${identifier}`, "warning");
		return;
	}
	await loginAccount(ctx, deps, account.email);
}

async function removeAccount(
	ctx: ExtensionCommandContext,
	deps: CommandDeps,
	identifier: string,
): Promise<void> {
	const { accountManager } = deps;
	const account = accountManager.getAccount(identifier);
	if (!account) return;
	if (accountManager.isPiAuthAccount(account)) {
		report(
			ctx,
			`${identifier} is pi's own login (auth.json), which MultiCodex never stores; remove it with /logout.`,
			"warning",
		);
		return;
	}
	const isActive = accountManager.getActiveAccount()?.email === identifier;
	const message = isActive
		? `Remove ${identifier}? This account is currently active and MultiCodex will switch to another account.`
		: `Remove ${identifier}?`;
	if (!(await ctx.ui.confirm("Remove account", message))) return;
	if (!accountManager.removeAccount(identifier)) return;
	report(ctx, `Removed ${identifier}`);
	void deps.statusController.refreshFor(ctx);
}

async function addAccount(
	ctx: ExtensionCommandContext,
	deps: CommandDeps,
): Promise<Account | undefined> {
	const identifier = (
		await ctx.ui.input("Account identifier", "an e-mail address, or a name such as work")
	)?.trim();
	if (!identifier) {
		report(ctx, "Account creation cancelled.", "warning");
		return undefined;
	}
	return loginAccount(ctx, deps, identifier);
}

function panelModel(deps: CommandDeps): AccountPanelModel {
	const now = Date.now();
	return {
		accounts: summarizeAccounts(deps.accountManager, now),
		usageMode: deps.statusController.getPreferences().usageMode,
		now,
	};
}

/**
 * The account panel loop (TUI): with no accounts it goes straight to "add". Usage is refreshed
 * in the background while the panel is open; it redraws as results arrive. Should pi not build
 * the panel after all, the status lines are the answer.
 */
export async function manageAccounts(
	ctx: ExtensionCommandContext,
	deps: CommandDeps,
): Promise<void> {
	const { accountManager } = deps;
	let focusEmail: string | undefined;
	while (true) {
		if (accountManager.getAccounts().length === 0) {
			if (!(await addAccount(ctx, deps))) return;
			continue;
		}
		void accountManager.refreshUsageIfStale(accountManager.getAccounts());
		const panel = await openAccountPanel(ctx, accountManager, () => panelModel(deps), focusEmail);
		if (!panel.shown) return printStatusLines(ctx, deps);
		const choice = panel.result;
		if (!choice) return;
		if (choice.action === "add") {
			focusEmail = (await addAccount(ctx, deps))?.email ?? focusEmail;
			continue;
		}
		focusEmail = choice.email;
		switch (choice.action) {
			case "use":
				await useOrLogin(ctx, deps, choice.email);
				return;
			case "refresh":
				await refreshAccount(ctx, deps, choice.email);
				break;
			case "reauth":
				await reauthAccount(ctx, deps, choice.email);
				break;
			case "remove":
				await removeAccount(ctx, deps, choice.email);
				break;
		}
	}
}

/** `accounts [id]`, `use [id]`: without an id the panel (TUI) or the status lines. */
export async function runAccounts(
	ctx: ExtensionCommandContext,
	deps: CommandDeps,
	identifier: string,
): Promise<void> {
	if (identifier) return useOrLogin(ctx, deps, identifier);
	if (hasCustomUi(ctx)) return manageAccounts(ctx, deps);
	return printStatusLines(ctx, deps);
}

/** `show`: the panel (TUI) or the status lines. */
export async function runShow(ctx: ExtensionCommandContext, deps: CommandDeps): Promise<void> {
	if (hasCustomUi(ctx)) return manageAccounts(ctx, deps);
	return printStatusLines(ctx, deps);
}

/** `refresh [id|all]`: without an argument the panel (TUI) or all accounts. */
export async function runRefresh(
	ctx: ExtensionCommandContext,
	deps: CommandDeps,
	argument: string,
): Promise<void> {
	if (argument.toLowerCase() === "all") return refreshAllAccounts(ctx, deps);
	if (argument) return refreshAccount(ctx, deps, argument);
	if (hasCustomUi(ctx)) return manageAccounts(ctx, deps);
	return refreshAllAccounts(ctx, deps);
}

/** `reauth [id]`: without an argument the panel (TUI) or a new login of the active account. */
export async function runReauth(
	ctx: ExtensionCommandContext,
	deps: CommandDeps,
	identifier: string,
): Promise<void> {
	if (identifier) return reauthAccount(ctx, deps, identifier);
	if (hasCustomUi(ctx)) return manageAccounts(ctx, deps);
	const active = deps.accountManager.getActiveAccount();
	if (!active) {
		report(ctx, NO_ACCOUNTS_MESSAGE, "warning");
		return;
	}
	return reauthAccount(ctx, deps, active.email);
}
