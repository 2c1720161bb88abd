// How the `/multicodex` subcommands talk to the user: one `report()` for every message (a
// notification with a UI, stderr without one), the dependencies every subcommand receives,
// and the check for pi's custom components (the TUI has them, RPC mode does not): the TUI gets
// panels and dialogs, every other mode A8's one line.
import type {
	ExtensionAPI,
	ExtensionCommandContext,
	ExtensionContext,
	KeybindingsManager,
	Theme,
} from "@mariozechner/pi-coding-agent";
import type { Component, SettingsListTheme, TUI } from "@mariozechner/pi-tui";
import type { AccountManager } from "./account-manager.ts";
import type { UsageStatusController } from "./status.ts";

export type ReportLevel = "info" | "warning" | "error";

export interface CommandDeps {
	pi: ExtensionAPI;
	accountManager: AccountManager;
	statusController: UsageStatusController;
}

export const NO_ACCOUNTS_MESSAGE =
	"No Multicodex accounts yet. Add one with /multicodex use <identifier> (opens the OpenAI login).";

/**
 * Tells the user something. With a UI (TUI, RPC) that is a notification; in print and json
 * mode pi shows none, so the line goes to stderr where scripts and people see it (B12).
 */
export function report(ctx: ExtensionContext, message: string, level: ReportLevel = "info"): void {
	if (ctx.hasUI) {
		ctx.ui.notify(message, level);
		return;
	}
	process.stderr.write(`${message}\n`);
}

/**
 * Makes a print or json run (`pi -p`, no UI) exit with status 1, so a script can tell that a
 * subcommand failed (B12). Both pi lines end those runs by returning from `main`, set
 * `process.exitCode` only for a failed prompt and never back to 0, and call no `process.exit()`
 * after (checked in 0.73.1 and 1.3.0), so the code set here stands. With a UI (TUI, RPC) this
 * does nothing: pi keeps running, and its exit status is not the command's.
 */
export function failInScripts(ctx: ExtensionContext): void {
	if (!ctx.hasUI) process.exitCode = 1;
}

/** report() for a subcommand that failed: in print and json mode the run also exits with 1. */
export function reportFailure(
	ctx: ExtensionContext,
	message: string,
	level: Exclude<ReportLevel, "info"> = "warning",
): void {
	report(ctx, message, level);
	failInScripts(ctx);
}

export type CustomComponentFactory<T> = (
	tui: TUI,
	theme: Theme,
	keybindings: KeybindingsManager,
	done: (result: T) => void,
) => Component & { dispose?(): void };

/**
 * True in pi's TUI, the one mode that shows custom components; false in RPC mode (which has
 * `hasUI` but only dialogs and notifications) and in print and json mode. Without it a
 * subcommand answers with A8's one line, so RPC clients get the same lines as scripts.
 *
 * Decided before anything is shown, because some TUI versions are pi's own select and confirm
 * dialogs (main menu, verify, path, reset), which RPC mode would forward to the client.
 * Re-drawing those as custom components and falling back on `showCustom().shown` would tell the
 * modes apart too, but it would replace pi's dialogs in the TUI (on 1.x they also mark the
 * session as waiting for the user), so we ask the context instead:
 * - pi 1.x has `ctx.mode` ("tui" | "rpc" | "json" | "print"), documented as the guard for
 *   terminal-only UI such as custom components; when it is there it decides.
 * - pi 0.73 has no `ctx.mode`. Its TUI lists at least the built-in themes in
 *   `ui.getAllThemes()`, while its RPC mode (like the no-UI context) answers `[]`, "theme
 *   switching not supported". Checked in the 0.73.1 sources (and the same holds in 1.3.0);
 *   0.73 is a fixed release, so this fallback cannot drift.
 * The panels still check `showCustom().shown` and print the line if pi did not build them.
 */
export function hasCustomUi(ctx: ExtensionContext): boolean {
	if (!ctx.hasUI) return false;
	const mode: unknown = (ctx as { mode?: unknown }).mode;
	if (typeof mode === "string") return mode === "tui";
	return ctx.ui.getAllThemes().length > 0;
}

/**
 * Shows a custom component and waits for its result. `shown` is false where pi has no custom
 * components (RPC mode answers `custom()` with undefined without building the component), so
 * the caller can answer with its one line instead.
 */
export async function showCustom<T>(
	ctx: ExtensionCommandContext,
	factory: CustomComponentFactory<T>,
): Promise<{ shown: true; result: T } | { shown: false }> {
	let built = false;
	const result = await ctx.ui.custom<T>((tui, theme, keybindings, done) => {
		built = true;
		return factory(tui, theme, keybindings, done);
	});
	return built ? { shown: true, result } : { shown: false };
}

/**
 * pi's settings-list theme with the list's key hint saying "Esc to close" instead of "Esc to
 * cancel": our settings panels save every change at once (B9), so Esc has nothing to cancel.
 */
export function closingSettingsListTheme(theme: SettingsListTheme): SettingsListTheme {
	return { ...theme, hint: (text) => theme.hint(text.replace("Esc to cancel", "Esc to close")) };
}
