// SPEC B12 "works in scripts": in print and json mode (no UI) a subcommand that failed — an
// unknown subcommand, reset target or account, a missing subcommand, verify WARN — makes the
// run exit with 1; one that worked leaves the status alone, and so does every failure in the
// TUI and RPC mode (pi keeps running there). The real `pi -p` runs are in e2e-commands.test.ts.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { AccountManager } from "../account-manager.ts";
import { failInScripts, reportFailure } from "../command-output.ts";
import { registerCommands } from "../commands.ts";
import { AGENT_DIR_ENV } from "../provider-utils.ts";
import type { UsageStatusController } from "../status.ts";

type Handler = (args: string, ctx: unknown) => Promise<void>;
type Mode = "tui" | "rpc" | "print" | "json";

const previousAgentDir = process.env[AGENT_DIR_ENV];
let agentDir: string;
let needsReauth: number;
let resetBreaks: boolean;
let tokenFails: boolean;

function ctxOf(mode: Mode) {
	return {
		hasUI: mode === "tui" || mode === "rpc",
		mode,
		ui: {
			notify: () => {},
			select: async () => undefined,
			getAllThemes: () => [],
		},
	};
}

function handler(): Handler {
	let registered: Handler | undefined;
	const pi = {
		registerCommand: (_name: string, options: { handler: Handler }) => {
			registered = options.handler;
		},
	};
	const account = { email: "a@x.com", accessToken: "t", refreshToken: "r", expiresAt: 1 };
	const accountManager = {
		getAccounts: () => [account],
		getAccount: (email: string) => (email === account.email ? account : undefined),
		getAccountsNeedingReauth: () => Array.from({ length: needsReauth }, () => account),
		getActiveAccount: () => account,
		getPiAuthAccount: () => undefined,
		getStoragePath: () => join(agentDir, "codex-accounts.json"),
		redact: (message: string) => message,
		hasManualAccount: () => false,
		clearManualAccount: () => {},
		clearAllQuotaExhaustion: () => {
			if (resetBreaks) throw new Error("storage is read-only");
			return 0;
		},
		refreshUsageForAllAccounts: async () => {},
		ensureValidToken: async () => {
			if (tokenFails) throw new Error("token refresh for a@x.com failed: HTTP 401");
			return "t";
		},
		refreshUsageForAccount: async () => undefined,
		getManualAccount: () => undefined,
		isPiAuthAccount: () => false,
		getCachedUsage: () => undefined,
	} as unknown as AccountManager;
	const statusController = { refreshFor: async () => {} } as unknown as UsageStatusController;
	registerCommands(pi as never, accountManager, statusController);
	if (!registered) throw new Error("no handler registered");
	return registered;
}

beforeEach(() => {
	agentDir = mkdtempSync(join(tmpdir(), "multicodex-exit-"));
	process.env[AGENT_DIR_ENV] = agentDir;
	needsReauth = 0;
	resetBreaks = false;
	tokenFails = false;
	process.exitCode = undefined;
	vi.spyOn(process.stderr, "write").mockImplementation(() => true);
});

afterEach(() => {
	process.exitCode = undefined;
	vi.restoreAllMocks();
	rmSync(agentDir, { recursive: true, force: true });
	if (previousAgentDir === undefined) delete process.env[AGENT_DIR_ENV];
	else process.env[AGENT_DIR_ENV] = previousAgentDir;
});

describe("the exit status of a print or json run", () => {
	it.each([
		["bogus", "an unknown subcommand"],
		["", "no subcommand"],
		["refresh nobody@x.com", "refresh of an unknown account"],
		["reauth nobody@x.com", "reauth of an unknown account"],
		["reset everything", "an unknown reset target"],
	])("is 1 after `/multicodex %s` (%s)", async (args) => {
		for (const mode of ["print", "json"] as const) {
			process.exitCode = undefined;
			await handler()(args, ctxOf(mode));
			expect(process.exitCode, mode).toBe(1);
		}
	});

	it("is 1 when verify says WARN, untouched when it says PASS", async () => {
		await handler()("verify", ctxOf("print"));
		expect(process.exitCode).toBeUndefined();
		needsReauth = 1;
		await handler()("verify", ctxOf("print"));
		expect(process.exitCode).toBe(1);
	});

	it("is 1 when refresh cannot get an account's token, untouched when it can", async () => {
		await handler()("refresh a@x.com", ctxOf("print"));
		expect(process.exitCode).toBeUndefined();
		tokenFails = true;
		await handler()("refresh a@x.com", ctxOf("print"));
		expect(process.exitCode).toBe(1);
	});

	it("is 1 when refresh all leaves an account that needs a new login (as verify's WARN)", async () => {
		needsReauth = 1;
		await handler()("refresh all", ctxOf("json"));
		expect(process.exitCode).toBe(1);
	});

	it("is 1 when a subcommand fails unexpectedly", async () => {
		resetBreaks = true;
		await handler()("reset quota", ctxOf("print"));
		expect(process.stderr.write).toHaveBeenCalledWith("Multicodex: storage is read-only\n");
		expect(process.exitCode).toBe(1);
	});

	it.each(["help", "path", "reset manual", "refresh all"])(
		"is untouched after `/multicodex %s`, which works",
		async (args) => {
			await handler()(args, ctxOf("print"));
			expect(process.exitCode).toBeUndefined();
		},
	);

	it.each(["tui", "rpc"] as const)("is never touched with a UI (%s)", async (mode) => {
		needsReauth = 1;
		const run = handler();
		for (const args of ["bogus", "refresh nobody@x.com", "reset everything"]) {
			await run(args, ctxOf(mode));
		}
		if (mode === "rpc") await run("verify", ctxOf(mode));
		failInScripts(ctxOf(mode) as never);
		reportFailure(ctxOf(mode) as never, "failed");
		expect(process.exitCode).toBeUndefined();
	});
});
