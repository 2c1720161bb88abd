// The `/multicodex` command: parsing, autocomplete, the main menu, and routing each subcommand
// to the module that owns it.
import type { ExtensionAPI, ExtensionCommandContext } from "@mariozechner/pi-coding-agent";
import type { AutocompleteItem } from "@mariozechner/pi-tui";
import type { AccountManager } from "./account-manager.ts";
import type { CommandDeps } from "./command-output.ts";
import { normalizeUnknownError } from "./provider-utils.ts";
import type { UsageStatusController } from "./status.ts";

export const HELP_TEXT =
	"Usage: /multicodex [accounts [identifier]|use [identifier]|show|refresh [identifier|all]|reauth [identifier]|footer|rotation|verify|path|reset [manual|quota|all]|help]";
export const RESET_TARGETS = ["manual", "quota", "all"] as const;
export type ResetTarget = (typeof RESET_TARGETS)[number];

export const SUBCOMMANDS = [
	"accounts",
	"use",
	"show",
	"refresh",
	"reauth",
	"footer",
	"rotation",
	"verify",
	"path",
	"reset",
	"help",
] as const;

export type Subcommand = (typeof SUBCOMMANDS)[number];

/** The main menu (`/multicodex` in the TUI): each subcommand with a short description. */
export const MENU_ENTRIES: readonly [Subcommand, string][] = [
	["accounts", "inspect, select, refresh, re-authenticate, add or remove accounts"],
	["refresh", "check the logins and fetch the usage of accounts"],
	["reauth", "log an account in again"],
	["footer", "footer settings, with a live preview"],
	["rotation", "how the next account is chosen"],
	["verify", "health checks"],
	["path", "where the accounts and settings are stored"],
	["reset", "clear the manual pin, quota cooldowns or no-codex flags"],
	["help", "command usage"],
];

export function parseCommandArgs(args: string): { subcommand?: string; rest: string } {
	const trimmed = args.trim();
	if (!trimmed) return { rest: "" };
	const space = trimmed.search(/\s/);
	if (space < 0) return { subcommand: trimmed.toLowerCase(), rest: "" };
	return {
		subcommand: trimmed.slice(0, space).toLowerCase(),
		rest: trimmed.slice(space + 1).trim(),
	};
}

export function isSubcommand(value: string): value is Subcommand {
	return (SUBCOMMANDS as readonly string[]).includes(value);
}

function completeAfter(
	subcommand: string,
	prefix: string,
	values: readonly string[],
): AutocompleteItem[] | null {
	const lower = prefix.toLowerCase();
	const matches = [...new Set(values)].filter((v) => v.toLowerCase().startsWith(lower));
	if (matches.length === 0) return null;
	return matches.map((value) => ({ value: `${subcommand} ${value}`, label: value }));
}

/**
 * Completions for the text after `/multicodex `: subcommand names; account identifiers after
 * accounts/use/reauth; `all` and identifiers after refresh; the targets after reset. Each
 * item's value is the whole argument text (pi replaces the argument with it).
 */
export function getCommandCompletions(
	argumentText: string,
	identifiers: readonly string[],
): AutocompleteItem[] | null {
	const text = argumentText.trimStart();
	const space = text.search(/\s/);
	if (space < 0) {
		const lower = text.toLowerCase();
		const matches = SUBCOMMANDS.filter((s) => s.startsWith(lower));
		return matches.length > 0 ? matches.map((value) => ({ value, label: value })) : null;
	}
	const subcommand = text.slice(0, space).toLowerCase();
	const prefix = text.slice(space + 1).trimStart();
	switch (subcommand) {
		case "accounts":
		case "use":
		case "reauth":
			return completeAfter(subcommand, prefix, identifiers);
		case "refresh":
			return completeAfter(subcommand, prefix, ["all", ...identifiers]);
		case "reset":
			return completeAfter(subcommand, prefix, RESET_TARGETS);
		default:
			return null;
	}
}

async function runSubcommand(
	subcommand: Subcommand,
	rest: string,
	ctx: ExtensionCommandContext,
	deps: CommandDeps,
): Promise<void> {
	// Every subcommand's module loads on first use: most pi runs never run one, and every module
	// pi's extension loader reads at start-up costs start-up time.
	switch (subcommand) {
		case "accounts":
		case "use":
			return (await import("./account-commands.ts")).runAccounts(ctx, deps, rest);
		case "show":
			return (await import("./account-commands.ts")).runShow(ctx, deps);
		case "refresh":
			return (await import("./account-commands.ts")).runRefresh(ctx, deps, rest);
		case "reauth":
			return (await import("./account-commands.ts")).runReauth(ctx, deps, rest);
		case "footer":
			return (await import("./footer-command.ts")).runFooter(ctx, deps);
		case "rotation":
			return (await import("./rotation-command.ts")).runRotation(ctx, deps);
		case "verify":
			return (await import("./maintenance-commands.ts")).runVerify(ctx, deps);
		case "path":
			return (await import("./maintenance-commands.ts")).runPath(ctx, deps);
		case "reset":
			return (await import("./maintenance-commands.ts")).runReset(ctx, deps, rest);
		case "help":
			return (await import("./maintenance-commands.ts")).runHelp(ctx);
	}
}

async function chooseFromMenu(ctx: ExtensionCommandContext): Promise<Subcommand | undefined> {
	const options = MENU_ENTRIES.map(([name, description]) => `${name}: ${description}`);
	const choice = await ctx.ui.select("MultiCodex", options);
	return MENU_ENTRIES[options.indexOf(choice ?? "")]?.[0];
}

async function handleCommand(
	args: string,
	ctx: ExtensionCommandContext,
	deps: CommandDeps,
): Promise<void> {
	const { subcommand, rest } = parseCommandArgs(args);
	const { failInScripts, hasCustomUi, reportFailure } = await import("./command-output.ts");
	if (!subcommand) {
		// RPC clients get the line of print mode (A8), not the menu as a select request.
		if (!hasCustomUi(ctx)) {
			reportFailure(
				ctx,
				"/multicodex requires a subcommand in non-interactive mode. Use /multicodex help.",
			);
			return;
		}
		const chosen = await chooseFromMenu(ctx);
		if (chosen) await runSubcommand(chosen, "", ctx, deps);
		return;
	}
	if (!isSubcommand(subcommand)) {
		const typed = args.trim().split(/\s/, 1)[0];
		reportFailure(ctx, `Unknown subcommand: ${typed}`);
		await runSubcommand("help", "", ctx, deps);
		return;
	}
	// account-commands.ts says `Unknown account: <id>`; a script must see that it failed (B12).
	if (await namesUnknownAccount(subcommand, rest, deps.accountManager)) failInScripts(ctx);
	await runSubcommand(subcommand, rest, ctx, deps);
}

/** `refresh <id>` or `reauth <id>` with an identifier no stored account has (A8). */
async function namesUnknownAccount(
	subcommand: Subcommand,
	argument: string,
	accountManager: AccountManager,
): Promise<boolean> {
	const namesAccount =
		(subcommand === "refresh" && argument.toLowerCase() !== "all") || subcommand === "reauth";
	if (!namesAccount || !argument) return false;
	const { findAccount } = await import("./account-commands.ts");
	return findAccount(accountManager, argument) === undefined;
}

export function registerCommands(
	pi: ExtensionAPI,
	accountManager: AccountManager,
	statusController: UsageStatusController,
): void {
	const deps: CommandDeps = { pi, accountManager, statusController };
	pi.registerCommand("multicodex", {
		description: "Manage MultiCodex accounts, health, rotation, and footer settings",
		getArgumentCompletions: (argumentText: string) =>
			getCommandCompletions(
				argumentText,
				accountManager.getAccounts().map((a) => a.email),
			),
		handler: async (args: string, ctx: ExtensionCommandContext) => {
			try {
				await handleCommand(args, ctx, deps);
			} catch (error) {
				const message = `Multicodex: ${accountManager.redact(normalizeUnknownError(error))}`;
				try {
					(await import("./command-output.ts")).reportFailure(ctx, message, "error");
				} catch {
					// The session was replaced while the command ran: its ctx is gone, stderr is not.
					process.stderr.write(`${message}\n`);
				}
			}
		},
	});
}
