// SPEC A7/A8/B9: the footer settings (definitions, one change at a time, the one-line summary)
// and `/multicodex footer`: in the TUI the settings panel (built by a fake custom(), keys
// pressed on it), each change shown in the footer and saved at once, the draft dropped when the
// panel closes; in RPC and print mode A8's one line and nothing else.
import { initTheme } from "@mariozechner/pi-coding-agent";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { CommandDeps } from "../command-output.ts";
import { runFooter } from "../footer-command.ts";
import {
	applyFooterSettingChange,
	DEFAULT_FOOTER_PREFERENCES,
	FOOTER_SETTINGS,
	type FooterPreferences,
	footerSettingValue,
	formatFooterPreferencesLine,
} from "../footer-settings.ts";

describe("footer settings", () => {
	it("offers the five preferences with their values", () => {
		expect(FOOTER_SETTINGS.map((s) => [s.id, s.values])).toEqual([
			["usageMode", ["left", "used"]],
			["resetWindow", ["5h", "7d", "both"]],
			["showAccount", ["on", "off"]],
			["showReset", ["on", "off"]],
			["order", ["account-first", "usage-first"]],
		]);
		expect(Object.keys(DEFAULT_FOOTER_PREFERENCES).sort()).toEqual(
			FOOTER_SETTINGS.map((s) => s.id).sort(),
		);
	});

	it("shows booleans as on/off", () => {
		expect(footerSettingValue(DEFAULT_FOOTER_PREFERENCES, "showAccount")).toBe("on");
		expect(
			footerSettingValue({ ...DEFAULT_FOOTER_PREFERENCES, showReset: false }, "showReset"),
		).toBe("off");
		expect(footerSettingValue(DEFAULT_FOOTER_PREFERENCES, "order")).toBe("account-first");
	});

	it("applies one change and ignores unknown ids or values", () => {
		const d = DEFAULT_FOOTER_PREFERENCES;
		expect(applyFooterSettingChange(d, "usageMode", "used")).toEqual({ ...d, usageMode: "used" });
		expect(applyFooterSettingChange(d, "showAccount", "off")).toEqual({ ...d, showAccount: false });
		expect(applyFooterSettingChange(d, "resetWindow", "both")).toEqual({
			...d,
			resetWindow: "both",
		});
		expect(applyFooterSettingChange(d, "resetWindow", "1h")).toBe(d);
		expect(applyFooterSettingChange(d, "colour", "red")).toBe(d);
	});

	it("prints A8's footer line", () => {
		expect(formatFooterPreferencesLine(DEFAULT_FOOTER_PREFERENCES)).toBe(
			"footer: usageMode=left resetWindow=7d showAccount=on showReset=on order=account-first",
		);
		expect(
			formatFooterPreferencesLine({
				usageMode: "used",
				resetWindow: "both",
				showAccount: false,
				showReset: false,
				order: "usage-first",
			}),
		).toBe(
			"footer: usageMode=used resetWindow=both showAccount=off showReset=off order=usage-first",
		);
	});
});

const ENTER = "\r";
const DOWN = "\x1b[B";
const ESC = "\x1b";
const LINE =
	"footer: usageMode=left resetWindow=7d showAccount=on showReset=on order=account-first";

describe("/multicodex footer", () => {
	let saved: FooterPreferences[];
	let previews: (FooterPreferences | undefined)[];
	let notes: [string, string][];
	let dialogs: string[];
	let panels: string[][];
	let keys: string[];
	let current: FooterPreferences;
	let failSave: boolean;
	let deps: CommandDeps;

	/**
	 * A ctx of the given mode (named as pi 1.x's `ctx.mode`). In the TUI custom() builds the
	 * panel, presses `keys` on it and resolves when it closes; in RPC mode it answers undefined
	 * without building it. Dialogs are recorded: none is expected.
	 */
	function ctx(mode: "tui" | "rpc" | "print", buildsPanels = mode === "tui") {
		const plain = { fg: (_c: string, t: string) => t, bold: (t: string) => t };
		return {
			hasUI: mode !== "print",
			mode,
			ui: {
				notify: (m: string, level: string) => notes.push([m, level]),
				select: async (title: string) => {
					dialogs.push(title);
					return undefined;
				},
				custom: async (
					factory: (...args: unknown[]) => {
						render(w: number): string[];
						handleInput(d: string): void;
					},
				) => {
					if (!buildsPanels) return undefined;
					return new Promise((resolve) => {
						const panel = factory({ requestRender: () => {} }, plain, {}, resolve);
						for (const key of keys) panel.handleInput(key);
						panels.push(panel.render(120));
					});
				},
			},
		} as never;
	}

	beforeAll(() => {
		// The settings list takes its colours from pi's theme, which the TUI sets up at start.
		initTheme("dark", false);
	});

	beforeEach(() => {
		saved = [];
		previews = [];
		notes = [];
		dialogs = [];
		panels = [];
		keys = [];
		failSave = false;
		current = DEFAULT_FOOTER_PREFERENCES;
		deps = {
			pi: {},
			accountManager: {},
			statusController: {
				loadPreferences: vi.fn(async () => {}),
				getPreferences: () => current,
				previewDraft: (_ctx: unknown, draft: FooterPreferences | undefined) => previews.push(draft),
				savePreferences: (_ctx: unknown, next: FooterPreferences) => {
					if (failSave) throw new Error("settings.json is damaged");
					saved.push(next);
					current = next;
				},
				formatPreview: (_theme: unknown, draft: FooterPreferences) => `Codex · ${draft.usageMode}`,
				refreshFor: vi.fn(async () => {}),
			},
		} as unknown as CommandDeps;
	});

	afterEach(() => {
		vi.restoreAllMocks();
	});

	it("without a UI prints the preferences", async () => {
		const write = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
		await runFooter(ctx("print"), deps);
		expect(write).toHaveBeenCalledWith(`${LINE}\n`);
	});

	it("in RPC mode says the preferences in one notification, with no dialogs", async () => {
		await runFooter(ctx("rpc"), deps);
		expect(notes).toEqual([[LINE, "info"]]);
		expect(dialogs).toEqual([]);
		expect(previews).toEqual([]);
		expect(deps.statusController.loadPreferences).toHaveBeenCalled();
	});

	it("in the TUI edits in the panel, saving and previewing each change at once", async () => {
		keys = [ENTER, DOWN, DOWN, ENTER, ESC];
		await runFooter(ctx("tui"), deps);
		expect(saved).toEqual([
			{ ...DEFAULT_FOOTER_PREFERENCES, usageMode: "used" },
			{ ...DEFAULT_FOOTER_PREFERENCES, usageMode: "used", showAccount: false },
		]);
		expect(panels[0]?.join("\n")).toContain("Preview: Codex · used");
		expect(previews[0]).toEqual(DEFAULT_FOOTER_PREFERENCES);
		expect(previews).toContainEqual({ ...DEFAULT_FOOTER_PREFERENCES, usageMode: "used" });
		expect(previews.at(-1)).toBeUndefined();
		expect(deps.statusController.refreshFor).toHaveBeenCalled();
		expect(notes).toEqual([]);
		expect(dialogs).toEqual([]);
	});

	it("says when a change could not be saved, and the footer still shows it", async () => {
		failSave = true;
		keys = [DOWN, DOWN, DOWN, DOWN, ENTER, ESC];
		await runFooter(ctx("tui"), deps);
		expect(notes).toEqual([["Footer setting not saved: settings.json is damaged", "error"]]);
		expect(previews).toContainEqual({ ...DEFAULT_FOOTER_PREFERENCES, order: "usage-first" });
		expect(previews.at(-1)).toBeUndefined();
	});

	it("closing the panel without a change changes nothing", async () => {
		keys = [DOWN, ESC];
		await runFooter(ctx("tui"), deps);
		expect(saved).toEqual([]);
		expect(notes).toEqual([]);
	});

	it("the TUI prints the line too should pi not build the panel", async () => {
		await runFooter(ctx("tui", false), deps);
		expect(notes).toEqual([[LINE, "info"]]);
		expect(previews.at(-1)).toBeUndefined();
	});
});
