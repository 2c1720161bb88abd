// The maintenance subcommands: verify (a health checklist), path (where our files are),
// reset (the manual pin, cooldowns and no-codex flags) and help. The TUI shows pi's dialogs;
// every other mode (RPC, print, json) gets A8's one line.
import { constants as fsConstants } from "node:fs";
import { access, mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import type { ExtensionCommandContext } from "@mariozechner/pi-coding-agent";
import {
	type CommandDeps,
	failInScripts,
	hasCustomUi,
	report,
	reportFailure,
} from "./command-output.ts";
import { HELP_TEXT, RESET_TARGETS, type ResetTarget } from "./commands.ts";
import { getAgentSettingsPath } from "./provider-utils.ts";

const RESET_CHOICES: Record<ResetTarget, string> = {
	manual: "manual - clear manual account override",
	quota: "quota - clear quota cooldowns and no-codex flags",
	all: "all - clear manual override, quota cooldowns and no-codex flags",
};

/** True when the file's folder exists (created if missing) and can be read and written. */
async function isWritableDirectoryFor(filePath: string): Promise<boolean> {
	const directory = dirname(filePath);
	try {
		await mkdir(directory, { recursive: true });
		await access(directory, fsConstants.R_OK | fsConstants.W_OK);
		return true;
	} catch {
		// Not writable is the answer verify reports, not an error of the command.
		return false;
	}
}

export interface VerifyResult {
	storageOk: boolean;
	settingsOk: boolean;
	accounts: number;
	active: string;
	piAuth: boolean;
	needsReauth: number;
}

export function isVerifyPass(result: VerifyResult): boolean {
	return result.storageOk && result.settingsOk && result.needsReauth === 0;
}

/** `verify: PASS|WARN storage=ok|fail settings=ok|fail accounts=N active=<id|none> piAuth=loaded|none needsReauth=N` */
export function formatVerifyLine(result: VerifyResult): string {
	return [
		`verify: ${isVerifyPass(result) ? "PASS" : "WARN"}`,
		`storage=${result.storageOk ? "ok" : "fail"}`,
		`settings=${result.settingsOk ? "ok" : "fail"}`,
		`accounts=${result.accounts}`,
		`active=${result.active}`,
		`piAuth=${result.piAuth ? "loaded" : "none"}`,
		`needsReauth=${result.needsReauth}`,
	].join(" ");
}

export function formatVerifyChecklist(result: VerifyResult): string[] {
	const yesNo = (ok: boolean) => (ok ? "yes" : "no");
	return [
		`storage directory writable: ${yesNo(result.storageOk)}`,
		`settings directory writable: ${yesNo(result.settingsOk)}`,
		`accounts: ${result.accounts}`,
		`active account: ${result.active}`,
		`pi auth (memory only): ${result.piAuth ? "loaded" : "none"}`,
		`accounts needing re-authentication: ${result.needsReauth}`,
	];
}

export async function runVerify(ctx: ExtensionCommandContext, deps: CommandDeps): Promise<void> {
	const { accountManager } = deps;
	const result: VerifyResult = {
		storageOk: await isWritableDirectoryFor(accountManager.getStoragePath()),
		settingsOk: await isWritableDirectoryFor(getAgentSettingsPath()),
		accounts: accountManager.getAccounts().length,
		active: accountManager.getActiveAccount()?.email ?? "none",
		piAuth: accountManager.getPiAuthAccount() !== undefined,
		needsReauth: accountManager.getAccountsNeedingReauth().length,
	};
	const pass = isVerifyPass(result);
	if (!hasCustomUi(ctx)) {
		report(ctx, formatVerifyLine(result), pass ? "info" : "warning");
		// A script running `pi -p "/multicodex verify"` sees WARN in the exit status too (B12).
		if (!pass) failInScripts(ctx);
		return;
	}
	await ctx.ui.select(
		`MultiCodex Verify (${pass ? "PASS" : "WARN"})`,
		formatVerifyChecklist(result),
	);
}

export async function runPath(ctx: ExtensionCommandContext, deps: CommandDeps): Promise<void> {
	const storage = deps.accountManager.getStoragePath();
	const settings = getAgentSettingsPath();
	if (!hasCustomUi(ctx)) {
		report(ctx, `paths: storage=${storage} settings=${settings}`);
		return;
	}
	await ctx.ui.select("MultiCodex Paths", [
		`Managed account storage: ${storage}`,
		`Extension settings: ${settings}`,
	]);
}

export function parseResetTarget(value: string): ResetTarget | undefined {
	const lower = value.trim().toLowerCase();
	return RESET_TARGETS.find((target) => target === lower);
}

/** The target named, or (no target) chosen in a dialog in the TUI and `all` elsewhere. */
async function chooseResetTarget(
	ctx: ExtensionCommandContext,
	argument: string,
): Promise<ResetTarget | undefined> {
	if (argument) {
		const target = parseResetTarget(argument);
		if (!target) {
			reportFailure(
				ctx,
				`Unknown reset target: ${argument}. Use: /multicodex reset [manual|quota|all]`,
			);
		}
		return target;
	}
	if (!hasCustomUi(ctx)) return "all";
	const choice = await ctx.ui.select("Reset MultiCodex State", Object.values(RESET_CHOICES));
	return RESET_TARGETS.find((target) => RESET_CHOICES[target] === choice);
}

export async function runReset(
	ctx: ExtensionCommandContext,
	deps: CommandDeps,
	argument: string,
): Promise<void> {
	const { accountManager } = deps;
	const target = await chooseResetTarget(ctx, argument);
	if (!target) return;
	// Only the TUI asks before `all`; elsewhere the command line is the decision (A8).
	if (target === "all" && hasCustomUi(ctx)) {
		const confirmed = await ctx.ui.confirm(
			"Reset MultiCodex state",
			"Clear manual account override, all quota cooldowns and no-codex flags?",
		);
		if (!confirmed) return;
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
	void deps.statusController.refreshFor(ctx);
}

export function runHelp(ctx: ExtensionCommandContext): void {
	report(ctx, HELP_TEXT);
}
