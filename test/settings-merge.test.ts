// SPEC B7 on settings.json (key `pi-multicodex`, shared by the footer preferences and the
// `rotation` object): two pi windows that each hold settings read earlier save one change each,
// against a real settings.json in a temporary agent dir. Each save writes only what its window
// changed, merged into the file as it is now, so neither change is lost; keys this version does
// not know and pi's own keys are kept; each window then holds the merged settings.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initTheme } from "@mariozechner/pi-coding-agent";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { AccountManager } from "../account-manager.ts";
import type { CommandDeps } from "../command-output.ts";
import { runFooter } from "../footer-command.ts";
import {
	DEFAULT_FOOTER_PREFERENCES,
	loadFooterPreferences,
	saveFooterPreferences,
} from "../footer-settings.ts";
import { AGENT_DIR_ENV } from "../provider-utils.ts";
import { runRotation } from "../rotation-command.ts";
import {
	DEFAULT_ROTATION_SETTINGS,
	loadRotationSettings,
	type RotationSettings,
	saveRotationSettings,
} from "../rotation-settings.ts";
import { createUsageStatusController } from "../status.ts";

const ENTER = "\r";
const DOWN = "\x1b[B";
const ESC = "\x1b";

const PI_SETTINGS = {
	defaultProvider: "openai-codex",
	theme: "dark",
	packages: ["npm:pi-multicodex-plus"],
};

const previousAgentDir = process.env[AGENT_DIR_ENV];
let agentDir: string;
let path: string;

function readSettings(): Record<string, unknown> & { "pi-multicodex": Record<string, unknown> } {
	return JSON.parse(readFileSync(path, "utf8"));
}

beforeAll(() => {
	// The settings lists take their colours from pi's theme, which the TUI sets up at start.
	initTheme("dark", false);
});

beforeEach(() => {
	agentDir = mkdtempSync(join(tmpdir(), "multicodex-settings-merge-"));
	process.env[AGENT_DIR_ENV] = agentDir;
	path = join(agentDir, "settings.json");
	writeFileSync(
		path,
		JSON.stringify({
			...PI_SETTINGS,
			"pi-multicodex": {
				usageMode: "used",
				futureOption: { keep: "me" },
				rotation: { strategy: "lowest-usage", retryCount: 3, futureKnob: [1, 2] },
			},
		}),
	);
});

afterEach(() => {
	rmSync(agentDir, { recursive: true, force: true });
	if (previousAgentDir === undefined) delete process.env[AGENT_DIR_ENV];
	else process.env[AGENT_DIR_ENV] = previousAgentDir;
});

describe("saving from settings read earlier", () => {
	it("rotation: each window's one change is kept, and unknown keys too", async () => {
		const window1 = await loadRotationSettings(path);
		const window2 = await loadRotationSettings(path);

		saveRotationSettings({ ...window1, strategy: "fill-first" }, ["strategy"], path);
		const inForce = saveRotationSettings({ ...window2, retryCount: 2 }, ["retryCount"], path);

		expect(inForce).toEqual({
			...DEFAULT_ROTATION_SETTINGS,
			strategy: "fill-first",
			retryCount: 2,
		});
		const saved = readSettings();
		expect(saved["pi-multicodex"].rotation).toEqual({
			strategy: "fill-first",
			retryCount: 2,
			futureKnob: [1, 2],
		});
		expect(saved["pi-multicodex"].usageMode).toBe("used");
		expect(saved["pi-multicodex"].futureOption).toEqual({ keep: "me" });
		expect(saved).toMatchObject(PI_SETTINGS);
	});

	it("rotation: proactive switching turned off is saved as off, alone", async () => {
		const stale = await loadRotationSettings(path);
		const inForce = saveRotationSettings(
			{ ...stale, proactiveSwitchPercent: undefined },
			["proactiveSwitchPercent"],
			path,
		);
		expect(inForce.proactiveSwitchPercent).toBeUndefined();
		expect(readSettings()["pi-multicodex"].rotation).toEqual({
			strategy: "lowest-usage",
			retryCount: 3,
			futureKnob: [1, 2],
			proactiveSwitchPercent: "off",
		});
	});

	it("footer: each window's one change is kept, and the rotation object too", async () => {
		const window1 = await loadFooterPreferences(path);
		const window2 = await loadFooterPreferences(path);

		saveFooterPreferences({ ...window1, usageMode: "left" }, ["usageMode"], path);
		const inForce = saveFooterPreferences(
			{ ...window2, showAccount: false },
			["showAccount"],
			path,
		);

		expect(inForce).toEqual({
			...DEFAULT_FOOTER_PREFERENCES,
			usageMode: "left",
			showAccount: false,
		});
		const ours = readSettings()["pi-multicodex"];
		expect(ours).toEqual({
			usageMode: "left",
			showAccount: false,
			futureOption: { keep: "me" },
			rotation: { strategy: "lowest-usage", retryCount: 3, futureKnob: [1, 2] },
		});
	});
});

/** A pi window: a fake ctx whose custom() builds the panel and runs `steps` (keys or actions). */
function tuiCtx(steps: (string | (() => Promise<void>))[]) {
	const plain = { fg: (_c: string, t: string) => t, bold: (t: string) => t };
	return {
		hasUI: true,
		mode: "tui",
		ui: {
			notify: (message: string) => {
				throw new Error(`unexpected notification: ${message}`);
			},
			setStatus: () => {},
			custom: async (
				factory: (...args: unknown[]) => { handleInput(d: string): void },
			): Promise<unknown> =>
				new Promise((resolve) => {
					const panel = factory({ requestRender: () => {} }, plain, {}, resolve);
					void (async () => {
						for (const step of steps) {
							if (typeof step === "function") await step();
							else panel.handleInput(step);
						}
					})();
				}),
		},
	} as never;
}

describe("two windows editing in their panels", () => {
	function rotationWindow(settings: RotationSettings) {
		let inForce = settings;
		const deps = {
			pi: {},
			accountManager: {
				getRotationSettings: () => inForce,
				setRotationSettings: (next: RotationSettings) => {
					inForce = next;
				},
			},
			statusController: {},
		} as unknown as CommandDeps;
		return { deps, inForce: () => inForce };
	}

	it("/multicodex rotation: a retry change does not put back the other window's strategy", async () => {
		// Both windows loaded the settings at session start.
		const window1 = rotationWindow(await loadRotationSettings());
		const window2 = rotationWindow(await loadRotationSettings());

		// Window 1 cycles the strategy (lowest-usage → earliest-reset).
		await runRotation(tuiCtx([ENTER, ESC]), window1.deps);
		// Window 2, still holding lowest-usage, cycles the retries (3 → 5).
		await runRotation(tuiCtx([DOWN, DOWN, ENTER, ESC]), window2.deps);

		expect(readSettings()["pi-multicodex"].rotation).toEqual({
			strategy: "earliest-reset",
			retryCount: 5,
			futureKnob: [1, 2],
		});
		expect(window2.inForce()).toEqual({
			...DEFAULT_ROTATION_SETTINGS,
			strategy: "earliest-reset",
			retryCount: 5,
		});
		expect(readSettings()["pi-multicodex"].usageMode).toBe("used");
	});

	it("/multicodex footer: a change while another window's panel is open is kept", async () => {
		const manager = {
			getActiveAccount: () => undefined,
			onStateChange: () => () => {},
		} as unknown as AccountManager;
		const controller1 = createUsageStatusController(manager);
		const controller2 = createUsageStatusController(manager);
		const deps = (statusController: typeof controller1) =>
			({ pi: {}, accountManager: manager, statusController }) as unknown as CommandDeps;

		// Window 2 opens its panel; while it is open, window 1 shows the reset of both windows
		// (7d → both); then window 2 switches to "left".
		await runFooter(
			tuiCtx([() => runFooter(tuiCtx([DOWN, ENTER, ESC]), deps(controller1)), ENTER, ESC]),
			deps(controller2),
		);

		expect(readSettings()["pi-multicodex"]).toEqual({
			usageMode: "left",
			resetWindow: "both",
			futureOption: { keep: "me" },
			rotation: { strategy: "lowest-usage", retryCount: 3, futureKnob: [1, 2] },
		});
		expect(controller2.getPreferences()).toEqual({
			...DEFAULT_FOOTER_PREFERENCES,
			usageMode: "left",
			resetWindow: "both",
		});
	});
});
