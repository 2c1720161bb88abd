// SPEC A8: verify (line and checklist), path, reset (targets, chooser, confirm) and help, with
// a fake ctx and account manager: pi's dialogs in the TUI, A8's one line in RPC mode (a
// notification) and print mode (stderr). The real files are exercised by the e2e tests.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { CommandDeps } from "../command-output.ts";
import { HELP_TEXT } from "../commands.ts";
import {
	formatVerifyChecklist,
	formatVerifyLine,
	isVerifyPass,
	parseResetTarget,
	runHelp,
	runPath,
	runReset,
	runVerify,
	type VerifyResult,
} from "../maintenance-commands.ts";
import { AGENT_DIR_ENV } from "../provider-utils.ts";

const OK: VerifyResult = {
	storageOk: true,
	settingsOk: true,
	accounts: 2,
	active: "a@x.com",
	piAuth: true,
	needsReauth: 0,
};

describe("verify", () => {
	it("passes when both folders are writable and no account needs a new login", () => {
		expect(isVerifyPass(OK)).toBe(true);
		expect(isVerifyPass({ ...OK, needsReauth: 1 })).toBe(false);
		expect(isVerifyPass({ ...OK, storageOk: false })).toBe(false);
		expect(isVerifyPass({ ...OK, settingsOk: false })).toBe(false);
	});

	it("prints A8's line", () => {
		expect(formatVerifyLine(OK)).toBe(
			"verify: PASS storage=ok settings=ok accounts=2 active=a@x.com piAuth=loaded needsReauth=0",
		);
		expect(
			formatVerifyLine({ ...OK, storageOk: false, piAuth: false, active: "none", needsReauth: 3 }),
		).toBe(
			"verify: WARN storage=fail settings=ok accounts=2 active=none piAuth=none needsReauth=3",
		);
	});

	it("shows a checklist with a UI", () => {
		expect(formatVerifyChecklist(OK)).toEqual([
			"storage directory writable: yes",
			"settings directory writable: yes",
			"accounts: 2",
			"active account: a@x.com",
			"pi auth (memory only): loaded",
			"accounts needing re-authentication: 0",
		]);
	});
});

describe("parseResetTarget", () => {
	it.each([
		["manual", "manual"],
		[" QUOTA ", "quota"],
		["All", "all"],
		["everything", undefined],
		["", undefined],
	])("%j → %j", (value, target) => {
		expect(parseResetTarget(value)).toBe(target);
	});
});

describe("subcommands with a fake ctx", () => {
	let notes: [string, string][];
	let selects: [string, string[]][];
	let confirms: string[];
	let selectAnswer: (options: string[]) => string | undefined;
	let confirmAnswer: boolean;
	let hadManual: boolean;
	let deps: CommandDeps;
	let manager: Record<string, ReturnType<typeof vi.fn>>;
	const previousAgentDir = process.env[AGENT_DIR_ENV];
	let agentDir: string;

	/** A ctx of the given mode, named as pi 1.x's `ctx.mode`. */
	function ctx(mode: "tui" | "rpc" | "print") {
		return {
			hasUI: mode !== "print",
			mode,
			ui: {
				notify: (m: string, level: string) => notes.push([m, level]),
				select: async (title: string, options: string[]) => {
					selects.push([title, options]);
					return selectAnswer(options);
				},
				confirm: async (title: string) => {
					confirms.push(title);
					return confirmAnswer;
				},
			},
		} as never;
	}

	beforeEach(() => {
		agentDir = mkdtempSync(join(tmpdir(), "multicodex-unit-agent-"));
		process.env[AGENT_DIR_ENV] = agentDir;
		notes = [];
		selects = [];
		confirms = [];
		selectAnswer = () => undefined;
		confirmAnswer = true;
		hadManual = true;
		manager = {
			hasManualAccount: vi.fn(() => hadManual),
			clearManualAccount: vi.fn(() => {
				hadManual = false;
			}),
			clearAllQuotaExhaustion: vi.fn(() => 2),
			getStoragePath: vi.fn(() => join(agentDir, "codex-accounts.json")),
			getAccounts: vi.fn(() => []),
			getActiveAccount: vi.fn(() => undefined),
			getPiAuthAccount: vi.fn(() => undefined),
			getAccountsNeedingReauth: vi.fn(() => []),
		};
		deps = {
			pi: {},
			accountManager: manager,
			statusController: { refreshFor: vi.fn(async () => {}) },
		} as unknown as CommandDeps;
	});

	afterEach(() => {
		rmSync(agentDir, { recursive: true, force: true });
		if (previousAgentDir === undefined) delete process.env[AGENT_DIR_ENV];
		else process.env[AGENT_DIR_ENV] = previousAgentDir;
		vi.restoreAllMocks();
	});

	it("reset without a UI and without a target resets all", async () => {
		const write = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
		await runReset(ctx("print"), deps, "");
		expect(write).toHaveBeenCalledWith("reset: target=all manualCleared=yes quotaCleared=2\n");
		expect(confirms).toEqual([]);
	});

	it("reset in RPC mode: no target means all, and nothing is asked", async () => {
		selectAnswer = (options) => options[0];
		confirmAnswer = false;
		await runReset(ctx("rpc"), deps, "");
		await runReset(ctx("rpc"), deps, "all");
		expect(selects).toEqual([]);
		expect(confirms).toEqual([]);
		expect(notes).toEqual([
			["reset: target=all manualCleared=yes quotaCleared=2", "info"],
			["reset: target=all manualCleared=no quotaCleared=2", "info"],
		]);
	});

	it("reset quota leaves the pin", async () => {
		await runReset(ctx("tui"), deps, "quota");
		expect(notes).toEqual([["reset: target=quota manualCleared=no quotaCleared=2", "info"]]);
		expect(manager.clearManualAccount).not.toHaveBeenCalled();
	});

	it("reset manual leaves the cooldowns", async () => {
		await runReset(ctx("tui"), deps, "manual");
		expect(notes).toEqual([["reset: target=manual manualCleared=yes quotaCleared=0", "info"]]);
		expect(manager.clearAllQuotaExhaustion).not.toHaveBeenCalled();
	});

	it("reset with a UI and no target lets the user choose, and asks before all", async () => {
		selectAnswer = (options) => options.find((o) => o.startsWith("all"));
		confirmAnswer = false;
		await runReset(ctx("tui"), deps, "");
		expect(selects[0]?.[0]).toBe("Reset MultiCodex State");
		expect(selects[0]?.[1].map((o) => o.split(" ")[0])).toEqual(["manual", "quota", "all"]);
		expect(confirms).toEqual(["Reset MultiCodex state"]);
		expect(notes).toEqual([]);
		expect(manager.clearManualAccount).not.toHaveBeenCalled();

		confirmAnswer = true;
		await runReset(ctx("tui"), deps, "ALL");
		expect(notes).toEqual([["reset: target=all manualCleared=yes quotaCleared=2", "info"]]);
	});

	it("reset names the valid targets for an unknown one", async () => {
		await runReset(ctx("tui"), deps, "cooldowns");
		expect(notes).toEqual([
			["Unknown reset target: cooldowns. Use: /multicodex reset [manual|quota|all]", "warning"],
		]);
	});

	it("path shows both files", async () => {
		const write = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
		await runPath(ctx("print"), deps);
		expect(write).toHaveBeenCalledWith(
			`paths: storage=${agentDir}/codex-accounts.json settings=${agentDir}/settings.json\n`,
		);
		await runPath(ctx("tui"), deps);
		expect(selects).toEqual([
			[
				"MultiCodex Paths",
				[
					`Managed account storage: ${agentDir}/codex-accounts.json`,
					`Extension settings: ${agentDir}/settings.json`,
				],
			],
		]);
	});

	it("path and verify in RPC mode: the one line as a notification", async () => {
		await runPath(ctx("rpc"), deps);
		await runVerify(ctx("rpc"), deps);
		manager.getAccountsNeedingReauth?.mockReturnValue([{ email: "c@x.com" }]);
		await runVerify(ctx("rpc"), deps);
		expect(selects).toEqual([]);
		expect(notes).toEqual([
			[`paths: storage=${agentDir}/codex-accounts.json settings=${agentDir}/settings.json`, "info"],
			[
				"verify: PASS storage=ok settings=ok accounts=0 active=none piAuth=none needsReauth=0",
				"info",
			],
			[
				"verify: WARN storage=ok settings=ok accounts=0 active=none piAuth=none needsReauth=1",
				"warning",
			],
		]);
	});

	it("verify checks the folders for real", async () => {
		const write = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
		await runVerify(ctx("print"), deps);
		expect(write).toHaveBeenCalledWith(
			"verify: PASS storage=ok settings=ok accounts=0 active=none piAuth=none needsReauth=0\n",
		);
		const notADirectory = join(mkdtempSync(join(tmpdir(), "multicodex-verify-")), "file");
		writeFileSync(notADirectory, "");
		manager.getStoragePath?.mockReturnValue(join(notADirectory, "codex-accounts.json"));
		await runVerify(ctx("tui"), deps);
		expect(selects.at(-1)?.[0]).toBe("MultiCodex Verify (WARN)");
		expect(selects.at(-1)?.[1][0]).toBe("storage directory writable: no");
	});

	it("help prints the usage", () => {
		runHelp(ctx("tui"));
		runHelp(ctx("rpc"));
		expect(notes).toEqual([
			[HELP_TEXT, "info"],
			[HELP_TEXT, "info"],
		]);
	});
});
