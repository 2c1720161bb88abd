// End to end in the real pi TUI (both lines) inside tmux: the account panel (usage bars, moving,
// refreshing, removing with a confirm), the footer settings panel (each change saved at once,
// the real footer following it), and pi's own dialogs for the main menu and verify. Every
// screen is kept in test-output/screens for review.
// Skips, saying why, where tmux is not installed.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { storedAccountOf, writeAccountsFile } from "./support/accounts-file.ts";
import {
	cleanupTempDirs,
	makeAgentDir,
	modelArgs,
	PI_LINES,
	SIM_MODEL,
	writeSettingsJson,
} from "./support/pi-runner.ts";
import { type SimBackend, startSimBackend } from "./support/sim-backend.ts";
import { isTmuxAvailable, startTmuxPi, type TmuxPi } from "./support/tmux.ts";

const EXTENSION = resolve(import.meta.dirname, "..", "index.ts");
const HAS_TMUX = isTmuxAvailable();
const HOUR_S = 3600;
const DAY_S = 24 * HOUR_S;

if (!HAS_TMUX) {
	console.warn(
		"e2e-tui: tmux is not installed (apt-get install -y tmux); the TUI tests are skipped.",
	);
}

let sim: SimBackend | undefined;
let tui: TmuxPi | undefined;

afterEach(async () => {
	await tui?.close();
	tui = undefined;
	await sim?.close();
	sim = undefined;
});

afterAll(() => cleanupTempDirs());

function readJson(path: string): Record<string, unknown> {
	return JSON.parse(readFileSync(path, "utf8"));
}

describe.skipIf(!HAS_TMUX).each(PI_LINES)("TUI panels on $name", (line) => {
	it("account panel: bars, move, refresh, remove with confirm; footer settings saved at once", async () => {
		const now = Math.floor(Date.now() / 1000);
		const backend = await startSimBackend({
			accounts: [
				{
					email: "a@sim.test",
					usage: {
						primaryUsedPercent: 10,
						primaryResetAt: now + 2 * HOUR_S,
						secondaryUsedPercent: 20,
						secondaryResetAt: now + 3 * DAY_S,
					},
				},
				{
					email: "b@sim.test",
					usage: {
						primaryUsedPercent: 70,
						primaryResetAt: now + 4 * HOUR_S,
						secondaryUsedPercent: 95,
						secondaryResetAt: now + 5 * DAY_S,
					},
				},
				{ email: "c@sim.test" },
			],
		});
		sim = backend;
		const agentDir = makeAgentDir();
		const settingsPath = writeSettingsJson(agentDir, { "some-other-extension": { keep: [1, 2] } });
		const accountsPath = writeAccountsFile(
			agentDir,
			["a@sim.test", "b@sim.test", "c@sim.test"].map((email) =>
				storedAccountOf(
					backend.issueTokens(email),
					email === "c@sim.test" ? { needsReauth: true } : {},
				),
			),
			"a@sim.test",
		);

		tui = startTmuxPi(line, line.name, {
			agentDir,
			simUrl: sim.url,
			extensionPath: EXTENSION,
			args: ["--no-session", ...modelArgs()],
		});
		const screen = tui;
		// The footer with the active account and its usage.
		await screen.waitFor(/Codex · a@sim\.test · 5h:90% left · 7d:80% left \(↺\d+d\d+h\)/, 30_000);
		screen.save("footer");

		let text = await screen.submit("/multicodex accounts", /MultiCodex Accounts/);
		text = await screen.waitFor(/7d ▕[█░]+▏ 5% left/);
		screen.save("accounts-panel");
		expect(text).toMatch(/enter use · u refresh · r reauth · n add · backspace remove · esc close/);
		expect(text).toContain("3 accounts · 1 need reauth");
		expect(text).toMatch(/> a@sim\.test \[active\]/);
		expect(text).toMatch(
			/5h ▕█████████░▏ 90% left\s+↺[12]h\d+m\s+7d ▕████████░░▏ 80% left\s+↺[23]d\d+h/,
		);
		expect(text).toMatch(/ {2}c@sim\.test \[needs reauth\]/);
		expect(text).toContain("selected: a@sim.test · 1/3");

		screen.press("Down");
		text = await screen.waitFor(/selected: b@sim\.test · 2\/3/);
		expect(text).toMatch(/> b@sim\.test/);
		screen.save("accounts-moved");

		// u: refresh b (token + usage), the panel comes back on b.
		const usageBefore = sim.countRequests({ path: "/backend-api/wham/usage", email: "b@sim.test" });
		sim.setUsage("b@sim.test", { primaryUsedPercent: 40 });
		screen.type("u");
		text = await screen.waitFor(/refreshed b@sim\.test - 5h 40%/);
		text = await screen.waitFor(/selected: b@sim\.test · 2\/3/);
		expect(
			sim.countRequests({ path: "/backend-api/wham/usage", email: "b@sim.test" }),
		).toBeGreaterThan(usageBefore);
		expect(text).toMatch(/5h ▕██████░░░░▏ 60% left/);
		screen.save("accounts-refreshed");

		// backspace: confirm first; "No" keeps it, "Yes" removes it.
		screen.press("BSpace");
		text = await screen.waitFor(/Remove b@sim\.test\?/);
		screen.save("accounts-remove-confirm");
		expect(text).not.toContain("currently active");
		screen.press("Down", "Enter");
		text = await screen.waitFor(/selected: b@sim\.test · 2\/3/);
		screen.press("BSpace");
		await screen.waitFor(/Remove b@sim\.test\?/);
		screen.press("Enter");
		text = await screen.waitFor(/2 accounts · 1 need reauth/);
		expect(text).toContain("Removed b@sim.test");
		expect(text).not.toMatch(/^[ >] b@sim\.test/m);
		screen.save("accounts-removed");
		expect((readJson(accountsPath).accounts as { email: string }[]).map((a) => a.email)).toEqual([
			"a@sim.test",
			"c@sim.test",
		]);
		screen.press("Escape");
		await screen.waitFor(/^(?![\s\S]*MultiCodex Accounts)/);

		// The footer settings: a change is saved before the panel closes; the footer follows it.
		text = await screen.submit("/multicodex footer", /MultiCodex Footer/);
		expect(text).toMatch(/Preview: Codex · a@sim\.test · 5h:90% left · 7d:80% left/);
		screen.save("footer-panel");
		screen.press("Enter");
		text = await screen.waitFor(/Preview: Codex · a@sim\.test · 5h:10% used · 7d:20% used/);
		expect(text).toMatch(/→ Usage display\s+used/);
		await expect
			.poll(() => (readJson(settingsPath)["pi-multicodex"] as { usageMode?: string })?.usageMode)
			.toBe("used");
		const settings = readJson(settingsPath);
		expect(settings["some-other-extension"]).toEqual({ keep: [1, 2] });
		expect(settings.defaultModel).toBe(SIM_MODEL);
		text = await screen.waitFor(/\n\s*Codex · a@sim\.test · 5h:10% used · 7d:20% used/);
		screen.save("footer-panel-changed");
		screen.press("Escape");
		await screen.waitFor(/^(?![\s\S]*MultiCodex Footer)/);

		// pi's own dialogs stay in the TUI (RPC clients get one line instead): the menu, verify.
		text = await screen.submit("/multicodex", /accounts: inspect, select/);
		expect(text).toMatch(/verify: health checks/);
		screen.save("main-menu");
		screen.press("Escape");
		await screen.waitFor(/^(?![\s\S]*accounts: inspect, select)/);
		text = await screen.submit("/multicodex verify", /MultiCodex Verify \(WARN\)/);
		expect(text).toContain("accounts needing re-authentication: 1");
		expect(text).not.toContain("verify: WARN");
		screen.save("verify-checklist");
		screen.press("Escape");
		await screen.waitFor(/^(?![\s\S]*MultiCodex Verify)/);

		// Autocomplete: subcommand names after `/multicodex `.
		screen.type("/multicodex re");
		text = await screen.waitFor(/reauth[\s\S]*reset/);
		expect(text).toContain("refresh");
		screen.save("autocomplete");
	});
});
