// How the `/multicodex` subcommands talk to the user: one `report()` for every message (a
// notification with a UI, stderr without one), the dependencies every subcommand receives,
// and the check for pi's custom components (the TUI has them, RPC mode does not).
import type {
	ExtensionAPI,
	ExtensionCommandContext,
	ExtensionContext,
	KeybindingsManager,
	Theme,
} from "@mariozechner/pi-coding-agent";
import type { Component, TUI } from "@mariozechner/pi-tui";
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

export type CustomComponentFactory<T> = (
	tui: TUI,
	theme: Theme,
	keybindings: KeybindingsManager,
	done: (result: T) => void,
) => Component & { dispose?(): void };

/**
 * Shows a custom component and waits for its result. `shown` is false where pi has no custom
 * components (RPC mode answers `custom()` with undefined without building the component), so
 * the caller can fall back to plain dialogs.
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

/** A theme that adds no colour, for text sent through plain dialogs (RPC clients get JSON). */
export const PLAIN_THEME = {
	fg: (_color: string, text: string) => text,
	bold: (text: string) => text,
};
