// The account panel as plain dialogs, for pi modes without custom components (RPC clients get
// `select` requests): pick an account (or "add"), then what to do with it.
import type { ExtensionCommandContext } from "@mariozechner/pi-coding-agent";
import type { AccountPanelAction, AccountPanelModel } from "./account-panel.ts";
import { formatAccountCounts, formatStatusLine } from "./account-status.ts";

export const ADD_ACCOUNT_OPTION = "+ add an account (log in)";

const ACCOUNT_ACTIONS = [
	["use", "use - make it the account for every request"],
	["refresh", "refresh - check its login and fetch its usage"],
	["reauth", "reauth - log in again"],
	["remove", "remove - delete it from MultiCodex"],
] as const;

export function accountOptions(model: AccountPanelModel): string[] {
	return [
		...model.accounts.map((a) => formatStatusLine(a.email, a.tags, a.usage, model.now)),
		ADD_ACCOUNT_OPTION,
	];
}

export async function selectAccountAction(
	ctx: ExtensionCommandContext,
	model: AccountPanelModel,
): Promise<AccountPanelAction | undefined> {
	const options = accountOptions(model);
	const choice = await ctx.ui.select(
		`MultiCodex Accounts (${formatAccountCounts(model.accounts)})`,
		options,
	);
	if (choice === undefined) return undefined;
	if (choice === ADD_ACCOUNT_OPTION) return { action: "add" };
	const account = model.accounts[options.indexOf(choice)];
	if (!account) return undefined;
	const verb = await ctx.ui.select(
		account.email,
		ACCOUNT_ACTIONS.map(([, label]) => label),
	);
	const action = ACCOUNT_ACTIONS.find(([, label]) => label === verb)?.[0];
	return action ? { action, email: account.email } : undefined;
}
