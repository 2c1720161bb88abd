// `/multicodex footer`: the settings panel with a UI, the one-line summary without one.
import type { ExtensionCommandContext } from "@mariozechner/pi-coding-agent";
import { type CommandDeps, report } from "./command-output.ts";
import { openFooterPanel } from "./footer-panel.ts";
import { formatFooterPreferencesLine } from "./footer-settings.ts";

export async function runFooter(ctx: ExtensionCommandContext, deps: CommandDeps): Promise<void> {
	await deps.statusController.loadPreferences(ctx);
	if (ctx.hasUI) return openFooterPanel(ctx, deps);
	report(ctx, formatFooterPreferencesLine(deps.statusController.getPreferences()));
}
