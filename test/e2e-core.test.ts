// End to end with the real pi CLI on both lines against the simulated Codex backend: a plain
// answer, rotation on a quota answer, every account exhausted, pi's login alone, a refresh of
// an expired token through pi's OAuth, and clean `pi -p` exits.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import {
	readAccountsFile,
	type StoredAccount,
	storedAccountOf,
	writeAccountsFile,
} from "./support/accounts-file.ts";
import {
	cleanupTempDirs,
	makeAgentDir,
	modelArgs,
	PI_LINES,
	type RunPiResult,
	runPi,
	writeAuthJson,
	writeSettingsJson,
} from "./support/pi-runner.ts";
import { type SimBackend, type SimCredentials, startSimBackend } from "./support/sim-backend.ts";
import { findLeakedTokens } from "./support/sim-tokens.ts";

const EXTENSION = resolve(import.meta.dirname, "..", "index.ts");

function writeAccounts(agentDir: string, creds: SimCredentials[]) {
	writeAccountsFile(
		agentDir,
		creds.map((c) => storedAccountOf(c)),
	);
}

function readAccounts(agentDir: string): StoredAccount[] {
	return readAccountsFile(agentDir);
}

function expectCleanRun(result: RunPiResult): void {
	const output = `${result.stdout}\n${result.stderr}`;
	expect(output).not.toMatch(/stale after session replacement|Uncaught|UnhandledPromiseRejection/i);
	expect(findLeakedTokens(output)).toEqual([]);
	expect(result.timedOut).toBe(false);
}

let backend: SimBackend | undefined;

afterEach(async () => {
	await backend?.close();
	backend = undefined;
});

afterAll(() => cleanupTempDirs());

describe.each(PI_LINES)("core on $name", (line) => {
	async function setup(accounts: Parameters<typeof startSimBackend>[0]) {
		backend = await startSimBackend(accounts);
		const agentDir = makeAgentDir();
		writeSettingsJson(agentDir);
		return { sim: backend, agentDir };
	}

	function pi(agentDir: string, sim: SimBackend, ...messages: string[]) {
		return runPi(line, {
			agentDir,
			simUrl: sim.url,
			extensionPath: EXTENSION,
			args: ["--no-session", ...modelArgs(), "-p", ...messages],
			timeoutMs: 60_000,
		});
	}

	it("answers a plain prompt with the managed account", async () => {
		const { sim, agentDir } = await setup({ accounts: [{ email: "solo@sim.test" }] });
		writeAccounts(agentDir, [sim.issueTokens("solo@sim.test")]);
		const result = await pi(agentDir, sim, "say hi");
		expectCleanRun(result);
		expect(result.code).toBe(0);
		expect(result.stdout).toContain("Answered by solo@sim.test");
		expect(sim.responsesFor("solo@sim.test").filter((r) => r.status === 200)).toHaveLength(1);
	});

	it("rotates to the next account when the first answers 429, and cools the first down", async () => {
		const { sim, agentDir } = await setup({
			accounts: [{ email: "tired@sim.test", exhausted: true }, { email: "fresh@sim.test" }],
		});
		writeAccounts(agentDir, [sim.issueTokens("tired@sim.test"), sim.issueTokens("fresh@sim.test")]);
		const before = Date.now();
		// The manual pin makes the exhausted account the first choice.
		const result = await pi(agentDir, sim, "/multicodex use tired@sim.test", "say hi");
		expectCleanRun(result);
		expect(result.code).toBe(0);
		expect(result.stdout).toContain("Answered by fresh@sim.test");
		expect(sim.responsesFor("tired@sim.test").map((r) => r.status)).toEqual([429]);
		const tired = readAccounts(agentDir).find((a) => a.email === "tired@sim.test");
		const resetAt = sim.account("tired@sim.test").usage.primaryResetAt * 1000;
		expect(tired?.quotaExhaustedUntil).toBeGreaterThan(before);
		expect(tired?.quotaExhaustedUntil).toBe(resetAt);
	});

	it("fails with an honest message naming the earliest reset when every account is exhausted", async () => {
		const soon = Math.floor(Date.now() / 1000) + 2 * 3600;
		const later = Math.floor(Date.now() / 1000) + 4 * 3600;
		const { sim, agentDir } = await setup({
			accounts: [
				{ email: "a@sim.test", exhausted: true, usage: { primaryResetAt: later } },
				{ email: "b@sim.test", exhausted: true, usage: { primaryResetAt: soon } },
			],
		});
		writeAccounts(agentDir, [sim.issueTokens("a@sim.test"), sim.issueTokens("b@sim.test")]);
		const result = await pi(agentDir, sim, "say hi");
		expectCleanRun(result);
		expect(result.code).not.toBe(0);
		const output = `${result.stdout}\n${result.stderr}`;
		expect(output).toContain("No available Multicodex accounts");
		expect(output).toMatch(/every account is out of quota; the first back is b@sim\.test, in 2h/);
		expect(sim.responsesFor("a@sim.test")).toHaveLength(1);
		expect(sim.responsesFor("b@sim.test")).toHaveLength(1);
	});

	it("works with nothing but pi's own login, and never writes it to our file", async () => {
		const { sim, agentDir } = await setup({ accounts: [{ email: "pilogin@sim.test" }] });
		const creds = sim.issueTokens("pilogin@sim.test");
		writeAuthJson(agentDir, creds);
		const result = await pi(agentDir, sim, "say hi");
		expectCleanRun(result);
		expect(result.code).toBe(0);
		expect(result.stdout).toContain("Answered by pilogin@sim.test");
		const file = join(agentDir, "codex-accounts.json");
		if (existsSync(file)) expect(readFileSync(file, "utf8")).not.toContain(creds.access);
	});

	it("refreshes an expired access token through pi's OAuth and saves the new tokens", async () => {
		const { sim, agentDir } = await setup({ accounts: [{ email: "old@sim.test" }] });
		const creds = sim.issueTokens("old@sim.test", { expiresInSec: 60 });
		writeAccounts(agentDir, [creds]);
		const result = await pi(agentDir, sim, "say hi");
		expectCleanRun(result);
		expect(result.code).toBe(0);
		expect(result.stdout).toContain("Answered by old@sim.test");
		expect(sim.refreshGrants().filter((r) => r.status === 200)).toHaveLength(1);
		const [stored] = readAccounts(agentDir);
		expect(stored?.refreshToken).not.toBe(creds.refresh);
		expect(stored?.accessToken).not.toBe(creds.access);
		expect(stored?.expiresAt).toBeGreaterThan(Date.now() + 30 * 60_000);
		expect(stored?.needsReauth).toBeUndefined();
		expect(statSync(join(agentDir, "codex-accounts.json")).mode & 0o777).toBe(0o600);
	});

	it("ends a print run cleanly even when usage answers arrive after pi shut the session down", async () => {
		const { sim, agentDir } = await setup({
			accounts: [{ email: "slow@sim.test" }],
			usageDelayMs: 1500,
		});
		writeAccounts(agentDir, [sim.issueTokens("slow@sim.test")]);
		const result = await pi(agentDir, sim, "say hi");
		expectCleanRun(result);
		expect(result.code).toBe(0);
		expect(result.stdout).toContain("Answered by slow@sim.test");
	});
});
