// The `/multicodex` command: parsing, autocomplete and routing to each subcommand.
import { constants as fsConstants } from "node:fs";
import { access, mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import type { ExtensionAPI, ExtensionCommandContext } from "@mariozechner/pi-coding-agent";
import type { AccountManager } from "./account-manager.ts";
import { formatAccountStatusLine } from "./account-status.ts";
import { getAgentSettingsPath, normalizeUnknownError } from "./provider-utils.ts";
import { runRotation } from "./rotation-command.ts";
import type { UsageStatusController } from "./status.ts";

export const HELP_TEXT =
	"Usage: /multicodex [accounts [identifier]|use [identifier]|show|refresh [identifier|all]|reauth [identifier]|footer|rotation|verify|path|reset [manual|quota|all]|help]";
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
export const RESET_TARGETS = ["manual", "quota", "all"] as const;
const NO_ACCOUNTS_MESSAGE =
	"No Multicodex accounts yet. Add one with /multicodex use <identifier> (opens the OpenAI login).";

type Subcommand = (typeof SUBCOMMANDS)[number];
type Level = "info" | "warning" | "error";

export function parseCommandArgs(args: string): { subcommand?: string; rest: string } {
	const trimmed = args.trim();
	if (!trimmed) return { rest: "" };
	const space = trimmed.indexOf(" ");
	if (space < 0) return { subcommand: trimmed.toLowerCase(), rest: "" };
	return {
		subcommand: trimmed.slice(0, space).toLowerCase(),
		rest: trimmed.slice(space + 1).trim(),
	};
}

function isSubcommand(value: string): value is Subcommand {
	return (SUBCOMMANDS as readonly string[]).includes(value);
}

/**
 * Tells the user something. With a UI (TUI, RPC) that is a notification; in print and json
 * mode pi shows none, so the line goes to stderr where scripts and people see it (B12).
 */
export function report(ctx: ExtensionCommandContext, message: string, level: Level = "info"): void {
	if (ctx.hasUI) {
		ctx.ui.notify(message, level);
		return;
	}
	process.stderr.write(`${message}\n`);
}

async function isWritableDirectoryFor(filePath: string): Promise<boolean> {
	try {
		const directory = dirname(filePath);
		await mkdir(directory, { recursive: true });
		await access(directory, fsConstants.R_OK | fsConstants.W_OK);
		return true;
	} catch {
		return false;
	}
}

export interface CommandDeps {
	pi: ExtensionAPI;
	accountManager: AccountManager;
	statusController: UsageStatusController;
}

function statusLines(accountManager: AccountManager): string[] {
	return accountManager.getAccounts().map((a) => formatAccountStatusLine(accountManager, a));
}

async function runShow(ctx: ExtensionCommandContext, deps: CommandDeps): Promise<void> {
	await deps.accountManager.refreshUsageIfStale(deps.accountManager.getAccounts());
	const lines = statusLines(deps.accountManager);
	if (lines.length === 0) {
		report(ctx, NO_ACCOUNTS_MESSAGE, "warning");
		return;
	}
	if (ctx.hasUI) {
		await ctx.ui.select("MultiCodex Accounts", lines);
		return;
	}
	report(ctx, lines.join("\n"));
}

async function runUse(
	ctx: ExtensionCommandContext,
	deps: CommandDeps,
	identifier: string,
): Promise<void> {
	const { accountManager } = deps;
	const account = accountManager.getAccount(identifier);
	if (!account) {
		report(
			ctx,
			`Unknown account: ${identifier}. Adding accounts by login needs the interactive /multicodex.`,
			"warning",
		);
		return;
	}
	try {
		await accountManager.ensureValidToken(account);
	} catch (error) {
		report(
			ctx,
			`Cannot use ${identifier}: ${accountManager.redact(normalizeUnknownError(error))}`,
			"warning",
		);
		return;
	}
	accountManager.setManualAccount(identifier);
	report(ctx, `Now using ${identifier}`);
}

async function runVerify(ctx: ExtensionCommandContext, deps: CommandDeps): Promise<void> {
	const { accountManager } = deps;
	const storageOk = await isWritableDirectoryFor(accountManager.getStoragePath());
	const settingsOk = await isWritableDirectoryFor(getAgentSettingsPath());
	const accounts = accountManager.getAccounts().length;
	const active = accountManager.getActiveAccount()?.email ?? "none";
	const piAuth = accountManager.getPiAuthAccount() ? "loaded" : "none";
	const needsReauth = accountManager.getAccountsNeedingReauth().length;
	const ok = storageOk && settingsOk && needsReauth === 0;
	if (!ctx.hasUI) {
		report(
			ctx,
			`verify: ${ok ? "PASS" : "WARN"} storage=${storageOk ? "ok" : "fail"} settings=${settingsOk ? "ok" : "fail"} accounts=${accounts} active=${active} piAuth=${piAuth} needsReauth=${needsReauth}`,
			ok ? "info" : "warning",
		);
		return;
	}
	await ctx.ui.select(`MultiCodex Verify (${ok ? "PASS" : "WARN"})`, [
		`storage directory writable: ${storageOk ? "yes" : "no"}`,
		`settings directory writable: ${settingsOk ? "yes" : "no"}`,
		`accounts: ${accounts}`,
		`active account: ${active}`,
		`pi auth (memory only): ${piAuth}`,
		`accounts needing re-authentication: ${needsReauth}`,
	]);
}

async function runPath(ctx: ExtensionCommandContext, deps: CommandDeps): Promise<void> {
	const storage = deps.accountManager.getStoragePath();
	const settings = getAgentSettingsPath();
	if (!ctx.hasUI) {
		report(ctx, `paths: storage=${storage} settings=${settings}`);
		return;
	}
	await ctx.ui.select("MultiCodex Paths", [
		`Managed account storage: ${storage}`,
		`Extension settings: ${settings}`,
	]);
}

async function runReset(
	ctx: ExtensionCommandContext,
	deps: CommandDeps,
	rest: string,
): Promise<void> {
	const { accountManager } = deps;
	let target = rest.toLowerCase();
	if (!target) target = "all";
	if (!(RESET_TARGETS as readonly string[]).includes(target)) {
		report(ctx, "Unknown reset target. Use: /multicodex reset [manual|quota|all]", "warning");
		return;
	}
	const hadManual = accountManager.hasManualAccount();
	if (target === "manual" || target === "all") accountManager.clearManualAccount();
	const quotaCleared =
		target === "quota" || target === "all" ? accountManager.clearAllQuotaExhaustion() : 0;
	const manualCleared = hadManual && !accountManager.hasManualAccount();
	report(
		ctx,
		`reset: target=${target} manualCleared=${manualCleared ? "yes" : "no"} quotaCleared=${quotaCleared}`,
	);
}

async function runFooter(ctx: ExtensionCommandContext, deps: CommandDeps): Promise<void> {
	await deps.statusController.loadPreferences(ctx);
	const p = deps.statusController.getPreferences();
	report(
		ctx,
		`footer: usageMode=${p.usageMode} resetWindow=${p.resetWindow} showAccount=${p.showAccount ? "on" : "off"} showReset=${p.showReset ? "on" : "off"} order=${p.order}`,
	);
}

async function runRefresh(
	ctx: ExtensionCommandContext,
	deps: CommandDeps,
	rest: string,
): Promise<void> {
	const { accountManager } = deps;
	if (rest && rest.toLowerCase() !== "all") {
		const account = accountManager.getAccount(rest);
		if (!account) {
			report(ctx, `Unknown account: ${rest}`, "warning");
			return;
		}
		await accountManager.refreshUsageForAccount(account, { force: true });
		const fresh = accountManager.getAccount(rest) ?? account;
		report(ctx, `refreshed ${formatAccountStatusLine(accountManager, fresh)}`);
		return;
	}
	await accountManager.refreshUsageForAllAccounts({ force: true });
	report(
		ctx,
		`refreshed ${accountManager.getAccounts().length} account(s); reauth needed=${accountManager.getAccountsNeedingReauth().length}`,
	);
}

async function runSubcommand(
	subcommand: Subcommand,
	rest: string,
	ctx: ExtensionCommandContext,
	deps: CommandDeps,
): Promise<void> {
	switch (subcommand) {
		case "accounts":
		case "use":
			if (rest) return runUse(ctx, deps, rest);
			return runShow(ctx, deps);
		case "show":
			return runShow(ctx, deps);
		case "refresh":
			return runRefresh(ctx, deps, rest);
		case "reauth":
			report(ctx, "Re-login needs the interactive /multicodex for now.", "warning");
			return;
		case "footer":
			return runFooter(ctx, deps);
		case "rotation":
			return runRotation(ctx, deps);
		case "verify":
			return runVerify(ctx, deps);
		case "path":
			return runPath(ctx, deps);
		case "reset":
			return runReset(ctx, deps, rest);
		case "help":
			report(ctx, HELP_TEXT);
			return;
	}
}

export function registerCommands(
	pi: ExtensionAPI,
	accountManager: AccountManager,
	statusController: UsageStatusController,
): void {
	const deps: CommandDeps = { pi, accountManager, statusController };
	pi.registerCommand("multicodex", {
		description: "Manage MultiCodex accounts, rotation and footer",
		getArgumentCompletions: (prefix: string) => {
			const items = SUBCOMMANDS.filter((s) => s.startsWith(prefix.trim().toLowerCase()));
			return items.length > 0 ? items.map((value) => ({ value, label: value })) : null;
		},
		handler: async (args: string, ctx: ExtensionCommandContext) => {
			const parsed = parseCommandArgs(args);
			try {
				if (!parsed.subcommand) {
					report(ctx, "/multicodex needs a subcommand here. See /multicodex help.", "warning");
					return;
				}
				if (!isSubcommand(parsed.subcommand)) {
					report(ctx, `Unknown subcommand: ${parsed.subcommand}`, "warning");
					report(ctx, HELP_TEXT);
					return;
				}
				await runSubcommand(parsed.subcommand, parsed.rest, ctx, deps);
			} catch (error) {
				report(ctx, `Multicodex: ${accountManager.redact(normalizeUnknownError(error))}`, "error");
			}
		},
	});
}
