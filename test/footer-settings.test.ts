// Footer preferences in pi's settings.json (key `pi-multicodex`): per-field defaults, merging
// saves that leave pi's own settings untouched, and no write over a damaged file.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
	DEFAULT_FOOTER_PREFERENCES,
	loadFooterPreferences,
	normalizeFooterPreferences,
	persistFooterPreferences,
	SETTINGS_KEY,
	saveMultiCodexSettings,
} from "../footer-settings.ts";

describe("normalizeFooterPreferences", () => {
	it("has the documented defaults", () => {
		expect(DEFAULT_FOOTER_PREFERENCES).toEqual({
			usageMode: "left",
			resetWindow: "7d",
			showAccount: true,
			showReset: true,
			order: "account-first",
		});
	});

	it.each([undefined, null, "used", 42, ["used"]])("falls back to defaults for %j", (value) => {
		expect(normalizeFooterPreferences(value)).toEqual(DEFAULT_FOOTER_PREFERENCES);
	});

	it("keeps every valid field", () => {
		const preferences = {
			usageMode: "used",
			resetWindow: "both",
			showAccount: false,
			showReset: false,
			order: "usage-first",
		};
		expect(normalizeFooterPreferences(preferences)).toEqual(preferences);
	});

	it("falls back per field, keeping the valid ones", () => {
		expect(
			normalizeFooterPreferences({
				usageMode: "used",
				resetWindow: "30d",
				showAccount: "no",
				showReset: false,
				order: "sideways",
			}),
		).toEqual({
			usageMode: "used",
			resetWindow: "7d",
			showAccount: true,
			showReset: false,
			order: "account-first",
		});
		expect(
			normalizeFooterPreferences({ usageMode: "LEFT", resetWindow: "5h", showAccount: 0 }),
		).toEqual({
			...DEFAULT_FOOTER_PREFERENCES,
			resetWindow: "5h",
		});
	});
});

describe("saving and loading settings.json", () => {
	let dir: string;
	let path: string;

	beforeEach(() => {
		dir = mkdtempSync(join(tmpdir(), "multicodex-settings-"));
		path = join(dir, "settings.json");
	});

	afterEach(() => {
		rmSync(dir, { recursive: true, force: true });
	});

	const piSettings = {
		defaultProvider: "openai-codex",
		defaultModel: "gpt-5.1-codex",
		theme: "dark",
		packages: ["npm:pi-multicodex-plus", { source: "git:example", extensions: ["./x.ts"] }],
		compaction: { enabled: true, reserveTokens: 16384, nested: { deep: [1, 2, { x: null }] } },
		quietStartup: false,
		[SETTINGS_KEY]: { usageMode: "used", showReset: false, futureOption: { keep: "me" } },
		zzLast: "",
	};

	it("merges into pi-multicodex and leaves every other key as it was", () => {
		writeFileSync(path, JSON.stringify(piSettings, null, 2));

		saveMultiCodexSettings({ resetWindow: "both", showReset: true }, path);

		const saved = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
		expect(Object.keys(saved)).toEqual(Object.keys(piSettings));
		for (const [key, value] of Object.entries(piSettings)) {
			if (key !== SETTINGS_KEY) expect(saved[key]).toEqual(value);
		}
		expect(saved[SETTINGS_KEY]).toEqual({
			usageMode: "used",
			showReset: true,
			futureOption: { keep: "me" },
			resetWindow: "both",
		});
		expect(readdirSync(dir)).toEqual(["settings.json"]);
	});

	it("creates settings.json when it is missing", () => {
		saveMultiCodexSettings({ order: "usage-first" }, path);
		expect(JSON.parse(readFileSync(path, "utf8"))).toEqual({
			[SETTINGS_KEY]: { order: "usage-first" },
		});
	});

	it("replaces a pi-multicodex value that is not an object", () => {
		writeFileSync(path, JSON.stringify({ theme: "light", [SETTINGS_KEY]: "broken" }));
		saveMultiCodexSettings({ usageMode: "used" }, path);
		expect(JSON.parse(readFileSync(path, "utf8"))).toEqual({
			theme: "light",
			[SETTINGS_KEY]: { usageMode: "used" },
		});
	});

	it("refuses to overwrite a damaged settings.json and leaves it as it was", () => {
		const damaged = '{ "theme": "dark", "defaultModel": ';
		writeFileSync(path, damaged);
		expect(() => saveMultiCodexSettings({ usageMode: "used" }, path)).toThrow(/damaged/);
		expect(readFileSync(path, "utf8")).toBe(damaged);
		expect(readdirSync(dir)).toEqual(["settings.json"]);
	});

	it("refuses to overwrite a settings.json whose top level is not an object", () => {
		writeFileSync(path, "[1, 2, 3]");
		expect(() => saveMultiCodexSettings({ usageMode: "used" }, path)).toThrow(path);
		expect(readFileSync(path, "utf8")).toBe("[1, 2, 3]");
	});

	it("persists full preferences that load back the same", async () => {
		writeFileSync(path, JSON.stringify({ theme: "dark" }));
		const preferences = {
			usageMode: "used" as const,
			resetWindow: "5h" as const,
			showAccount: false,
			showReset: true,
			order: "usage-first" as const,
		};
		persistFooterPreferences(preferences, path);
		expect(await loadFooterPreferences(path)).toEqual(preferences);
		expect(JSON.parse(readFileSync(path, "utf8")).theme).toBe("dark");
	});

	it("loads defaults from a missing file and per-field defaults from a partial key", async () => {
		expect(await loadFooterPreferences(path)).toEqual(DEFAULT_FOOTER_PREFERENCES);
		writeFileSync(path, JSON.stringify({ [SETTINGS_KEY]: { usageMode: "used", order: 5 } }));
		expect(await loadFooterPreferences(path)).toEqual({
			...DEFAULT_FOOTER_PREFERENCES,
			usageMode: "used",
		});
	});

	it("reports a damaged file on load", async () => {
		writeFileSync(path, "not json");
		await expect(loadFooterPreferences(path)).rejects.toThrow(/damaged/);
	});
});
