// `/multicodex footer`: the settings panel in the TUI, the one-line summary everywhere else
// (RPC, print and json mode).
import type { ExtensionCommandContext } from "@mariozechner/pi-coding-agent";
import { type CommandDeps, hasCustomUi, report } from "./command-output.ts";
import { openFooterPanel } from "./footer-panel.ts";
import { formatFooterPreferencesLine } from "./footer-settings.ts";

export async function runFooter(ctx: ExtensionCommandContext, deps: CommandDeps): Promise<void> {
	await deps.statusController.loadPreferences(ctx);
	if (hasCustomUi(ctx) && (await openFooterPanel(ctx, deps))) return;
	report(ctx, formatFooterPreferencesLine(deps.statusController.getPreferences()));
}
