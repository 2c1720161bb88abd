// SPEC A7/A8/B9: the footer settings (definitions, one change at a time, the one-line summary)
// and `/multicodex footer` where pi has no custom components (RPC): plain dialogs, each change
// shown in the footer and saved at once, the draft dropped when the panel closes.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
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

describe("/multicodex footer", () => {
	let saved: FooterPreferences[];
	let previews: (FooterPreferences | undefined)[];
	let notes: [string, string][];
	let selects: string[];
	let answers: ((options: string[]) => string | undefined)[];
	let current: FooterPreferences;
	let failSave: boolean;
	let deps: CommandDeps;

	function ctx(hasUI = true) {
		return {
			hasUI,
			ui: {
				notify: (m: string, level: string) => notes.push([m, level]),
				// RPC mode: custom() answers undefined without building the component.
				custom: async () => undefined,
				select: async (title: string, options: string[]) => {
					selects.push(title);
					return answers.shift()?.(options);
				},
			},
		} as never;
	}

	const pick = (prefix: string) => (options: string[]) => options.find((o) => o.startsWith(prefix));

	beforeEach(() => {
		saved = [];
		previews = [];
		notes = [];
		selects = [];
		answers = [];
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
		await runFooter(ctx(false), deps);
		expect(write).toHaveBeenCalledWith(
			"footer: usageMode=left resetWindow=7d showAccount=on showReset=on order=account-first\n",
		);
	});

	it("in RPC mode edits through dialogs, saving and previewing each change at once", async () => {
		answers = [
			pick("Usage display: left"),
			pick("used"),
			(options) => {
				expect(saved).toEqual([{ ...DEFAULT_FOOTER_PREFERENCES, usageMode: "used" }]);
				expect(options[0]).toBe("Usage display: used");
				return pick("Show account")(options);
			},
			pick("off"),
			() => undefined,
		];
		await runFooter(ctx(), deps);
		expect(selects).toEqual([
			"MultiCodex Footer (preview: Codex · left)",
			"Usage display: Show remaining or consumed quota percentages",
			"MultiCodex Footer (preview: Codex · used)",
			"Show account: Show the active account identifier in the footer",
			"MultiCodex Footer (preview: Codex · used)",
		]);
		expect(saved.at(-1)).toEqual({
			...DEFAULT_FOOTER_PREFERENCES,
			usageMode: "used",
			showAccount: false,
		});
		expect(previews[0]).toEqual(DEFAULT_FOOTER_PREFERENCES);
		expect(previews.at(-1)).toBeUndefined();
		expect(deps.statusController.refreshFor).toHaveBeenCalled();
	});

	it("says when a change could not be saved, and the footer still shows it", async () => {
		failSave = true;
		answers = [pick("Footer order"), pick("usage-first"), () => undefined];
		await runFooter(ctx(), deps);
		expect(notes).toEqual([["Footer setting not saved: settings.json is damaged", "error"]]);
		expect(previews).toContainEqual({ ...DEFAULT_FOOTER_PREFERENCES, order: "usage-first" });
		expect(previews.at(-1)).toBeUndefined();
	});

	it("a cancelled value changes nothing", async () => {
		answers = [pick("Footer order"), () => undefined, () => undefined];
		await runFooter(ctx(), deps);
		expect(saved).toEqual([]);
	});
});
