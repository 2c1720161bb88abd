// SPEC B9: the footer and rotation settings panels save each change at once, so their key hint
// says Esc closes them (pi's settings list says "Esc to cancel"). Both panels are built by a fake
// custom() in the TUI, rendered, and closed with Esc.
import { initTheme } from "@mariozechner/pi-coding-agent";
import { beforeAll, describe, expect, it } from "vitest";
import type { CommandDeps } from "../command-output.ts";
import { runFooter } from "../footer-command.ts";
import { DEFAULT_FOOTER_PREFERENCES } from "../footer-settings.ts";
import { runRotation } from "../rotation-command.ts";
import { DEFAULT_ROTATION_SETTINGS } from "../rotation-settings.ts";

const ESC = "\x1b";
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");

/** A TUI ctx whose custom() builds the panel, renders it, presses Esc and returns the lines. */
function tuiCtx(rendered: string[][]) {
	const plain = { fg: (_c: string, t: string) => t, bold: (t: string) => t };
	return {
		hasUI: true,
		mode: "tui",
		ui: {
			notify: () => {},
			custom: async (
				factory: (...args: unknown[]) => {
					render(w: number): string[];
					handleInput(d: string): void;
				},
			) =>
				new Promise((resolve) => {
					const panel = factory({ requestRender: () => {} }, plain, {}, resolve);
					rendered.push(panel.render(120).map((line) => line.replace(ANSI, "")));
					panel.handleInput(ESC);
				}),
		},
	} as never;
}

function deps(): CommandDeps {
	return {
		pi: {},
		accountManager: { getRotationSettings: () => DEFAULT_ROTATION_SETTINGS },
		statusController: {
			loadPreferences: async () => {},
			getPreferences: () => DEFAULT_FOOTER_PREFERENCES,
			previewDraft: () => {},
			formatPreview: () => "Codex",
			refreshFor: async () => {},
		},
	} as unknown as CommandDeps;
}

describe("the settings panels' key hint", () => {
	beforeAll(() => {
		initTheme("dark", false);
	});

	it.each([
		["footer", runFooter],
		["rotation", runRotation],
	])("/multicodex %s says Esc closes the panel", async (_name, run) => {
		const rendered: string[][] = [];
		await run(tuiCtx(rendered), deps());
		expect(rendered).toHaveLength(1);
		const hint = rendered[0]?.find((line) => line.includes("to change"));
		expect(hint).toMatch(/Esc to close$/);
		expect(rendered[0]?.join("\n")).not.toContain("Esc to cancel");
	});
});
