// `/multicodex rotation`: shows (and with a UI, edits) the rotation policy in force.
import type { ExtensionCommandContext } from "@mariozechner/pi-coding-agent";
import { type CommandDeps, report } from "./commands.ts";

export const ROTATION_POLICY_LINES = [
	"Current policy: manual account first, then untouched accounts, then lowest usage with the earliest weekly reset, then random.",
];

export async function runRotation(ctx: ExtensionCommandContext, _deps: CommandDeps): Promise<void> {
	if (ctx.hasUI) {
		await ctx.ui.select("MultiCodex Rotation", ROTATION_POLICY_LINES);
		return;
	}
	report(ctx, ROTATION_POLICY_LINES.join(" "));
}
