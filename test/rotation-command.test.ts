// SPEC A8: `/multicodex rotation` with a fake ctx: the settings panel in the TUI (built by a
// fake custom(), each change saved at once and applied to the account manager), and the one
// line of summary and policy in RPC mode (a notification, no dialogs) and print mode (stderr).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initTheme } from "@mariozechner/pi-coding-agent";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { CommandDeps } from "../command-output.ts";
import { AGENT_DIR_ENV } from "../provider-utils.ts";
import { applyRotationChange, runRotation } from "../rotation-command.ts";
import {
	describeRotationPolicy,
	formatRotationSummaryLine,
	type RotationSettings,
} from "../rotation-settings.ts";

const ENTER = "\r";
const ESC = "\x1b";

const SETTINGS: RotationSettings = {
	strategy: "lowest-usage",
	preferUntouched: true,
	retryCount: 2,
	fallbackCooldownMinutes: 60,
	proactiveSwitchPercent: undefined,
};

describe("applyRotationChange", () => {
	it("applies one value as the panel shows it", () => {
		expect(applyRotationChange(SETTINGS, "strategy", "fill-first").strategy).toBe("fill-first");
		expect(applyRotationChange(SETTINGS, "strategy", "best")).toBe(SETTINGS);
		expect(applyRotationChange(SETTINGS, "preferUntouched", "off").preferUntouched).toBe(false);
		expect(applyRotationChange(SETTINGS, "retryCount", "5").retryCount).toBe(5);
		expect(applyRotationChange(SETTINGS, "fallbackCooldownMinutes", "30m")).toEqual({
			...SETTINGS,
			fallbackCooldownMinutes: 30,
		});
		expect(applyRotationChange(SETTINGS, "proactiveSwitchPercent", "80%")).toEqual({
			...SETTINGS,
			proactiveSwitchPercent: 80,
		});
		expect(
			applyRotationChange(
				{ ...SETTINGS, proactiveSwitchPercent: 80 },
				"proactiveSwitchPercent",
				"off",
			).proactiveSwitchPercent,
		).toBeUndefined();
	});
});

describe("/multicodex rotation", () => {
	const previousAgentDir = process.env[AGENT_DIR_ENV];
	let agentDir: string;
	let settings: RotationSettings;
	let notes: [string, string][];
	let dialogs: string[];
	let panels: string[][];
	let keys: string[];
	let deps: CommandDeps;
	const line = () =>
		[formatRotationSummaryLine(SETTINGS), ...describeRotationPolicy(SETTINGS)].join(" ");

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
						panels.push(panel.render(120));
						for (const key of keys) panel.handleInput(key);
						panels.push(panel.render(120));
					});
				},
			},
		} as never;
	}

	beforeAll(() => {
		initTheme("dark", false);
	});

	beforeEach(() => {
		agentDir = mkdtempSync(join(tmpdir(), "multicodex-unit-agent-"));
		process.env[AGENT_DIR_ENV] = agentDir;
		settings = SETTINGS;
		notes = [];
		dialogs = [];
		panels = [];
		keys = [];
		deps = {
			pi: {},
			accountManager: {
				getRotationSettings: () => settings,
				setRotationSettings: vi.fn((next: RotationSettings) => {
					settings = next;
				}),
			},
			statusController: {},
		} as unknown as CommandDeps;
	});

	afterEach(() => {
		rmSync(agentDir, { recursive: true, force: true });
		if (previousAgentDir === undefined) delete process.env[AGENT_DIR_ENV];
		else process.env[AGENT_DIR_ENV] = previousAgentDir;
		vi.restoreAllMocks();
	});

	it("in RPC mode says the summary and the policy in one notification, with no dialogs", async () => {
		await runRotation(ctx("rpc"), deps);
		expect(notes).toEqual([[line(), "info"]]);
		expect(notes[0]?.[0]).toMatch(/^rotation: strategy=lowest-usage preferUntouched=on retries=2 /);
		expect(dialogs).toEqual([]);
		expect(panels).toEqual([]);
	});

	it("in print mode writes the same line to stderr", async () => {
		const write = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
		await runRotation(ctx("print"), deps);
		expect(write).toHaveBeenCalledWith(`${line()}\n`);
	});

	it("in the TUI shows the policy in the panel and saves a change at once", async () => {
		keys = [ENTER, ESC];
		await runRotation(ctx("tui"), deps);
		expect(panels[0]?.join("\n")).toContain("MultiCodex Rotation");
		expect(panels[0]?.join("\n")).toContain("Your manual pick (/multicodex use) comes first");
		expect(settings.strategy).not.toBe("lowest-usage");
		const saved = JSON.parse(readFileSync(join(agentDir, "settings.json"), "utf8"));
		expect(saved["pi-multicodex"].rotation.strategy).toBe(settings.strategy);
		expect(notes).toEqual([]);
		expect(dialogs).toEqual([]);
	});

	it("a change that cannot be saved is reported, and the settings in force stay", async () => {
		writeFileSync(join(agentDir, "settings.json"), "{ damaged");
		keys = [ENTER, ESC];
		await runRotation(ctx("tui"), deps);
		expect(settings).toBe(SETTINGS);
		expect(deps.accountManager.setRotationSettings).not.toHaveBeenCalled();
		expect(notes).toEqual([
			[expect.stringMatching(/^Multicodex: rotation settings not saved: .*damaged/), "error"],
		]);
		expect(readFileSync(join(agentDir, "settings.json"), "utf8")).toBe("{ damaged");
		// The panel, value and policy text, still shows the settings in force.
		expect(panels[1]?.join("\n")).toContain("lowest-usage");
		expect(panels[1]?.join("\n")).not.toContain("earliest-reset");
	});

	it("the TUI prints the line too should pi not build the panel", async () => {
		await runRotation(ctx("tui", false), deps);
		expect(notes).toEqual([[line(), "info"]]);
	});
});
