// SPEC edge cases with the real pi on both lines: the 5-hour and weekly windows told apart by
// length in the usage endpoint's answer (B4), a quota answer on the last try (B3), a plain 429
// that waits its own retry time (B3), the pinned account saved as activeEmail (A3) with fields
// this version does not know kept, an unknown subcommand echoed as typed (A8), and an
// identifier that is not ASCII (A5's account header).
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { readAccountsFile, storedAccountOf, writeAccountsFile } from "./support/accounts-file.ts";
import {
	cleanupTempDirs,
	makeAgentDir,
	modelArgs,
	PI_LINES,
	type RpcPi,
	type RunPiResult,
	runPi,
	startRpcPi,
	writeSettingsJson,
} from "./support/pi-runner.ts";
import { isFooter } from "./support/rpc-events.ts";
import { type SimBackend, type SimBackendOptions, startSimBackend } from "./support/sim-backend.ts";
import { findLeakedTokens } from "./support/sim-tokens.ts";

const EXTENSION = resolve(import.meta.dirname, "..", "index.ts");
const MINUTE_MS = 60_000;

let backend: SimBackend | undefined;
let rpc: RpcPi | undefined;

afterEach(async () => {
	await rpc?.close();
	rpc = undefined;
	await backend?.close();
	backend = undefined;
});

afterAll(() => cleanupTempDirs());

function outputOf(result: RunPiResult): string {
	const output = `${result.stdout}\n${result.stderr}`;
	expect(findLeakedTokens(output)).toEqual([]);
	expect(result.timedOut).toBe(false);
	return output;
}

describe.each(PI_LINES)("edge cases on $name", (line) => {
	async function setup(options: SimBackendOptions, settings: Record<string, unknown> = {}) {
		backend = await startSimBackend(options);
		const agentDir = makeAgentDir();
		writeSettingsJson(agentDir, settings);
		const emails = options.accounts?.map((a) => a.email) ?? [];
		writeAccountsFile(
			agentDir,
			emails.map((email) => storedAccountOf((backend as SimBackend).issueTokens(email))),
		);
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

	it("tells the weekly window from the 5-hour one by length when the weekly comes first", async () => {
		const { sim, agentDir } = await setup({
			accounts: [
				{
					email: "weekly@sim.test",
					usage: {
						primaryWindowMinutes: 7 * 24 * 60,
						primaryUsedPercent: 70,
						secondaryWindowMinutes: 5 * 60,
						secondaryUsedPercent: 20,
					},
				},
			],
		});
		rpc = startRpcPi(line, { agentDir, simUrl: sim.url, extensionPath: EXTENSION });
		await rpc.waitFor((e) => isFooter(e, "5h:80% left") && isFooter(e, "7d:30% left"), {
			timeoutMs: 20_000,
		});
	});

	it("cools down an account that hits its quota on the last try, and says the tries are used up", async () => {
		const { sim, agentDir } = await setup(
			{ accounts: [{ email: "tired@sim.test", exhausted: true }, { email: "fresh@sim.test" }] },
			{ "pi-multicodex": { rotation: { retryCount: 0 } } },
		);
		const before = Date.now();
		const failed = outputOf(await pi(agentDir, sim, "/multicodex use tired@sim.test", "say hi"));
		expect(failed).toContain(
			"tired@sim.test hit its usage limit and this request's 1 try is used up",
		);
		expect(sim.responsesFor("tired@sim.test")).toHaveLength(1);
		const tired = readAccountsFile(agentDir).find((a) => a.email === "tired@sim.test");
		expect(tired?.quotaExhaustedUntil ?? 0).toBeGreaterThan(before);

		const next = await pi(agentDir, sim, "say hi again");
		expect(outputOf(next)).toContain("Answered by fresh@sim.test");
		expect(sim.responsesFor("tired@sim.test")).toHaveLength(1);
	});

	it("lets a plain 429 wait its own retry time, not the 5-hour window", async () => {
		const resetIn3h = Math.floor(Date.now() / 1000) + 3 * 3600;
		const { sim, agentDir } = await setup({
			accounts: [
				{ email: "limited@sim.test", rateLimited: true, usage: { primaryResetAt: resetIn3h } },
				{ email: "other@sim.test" },
			],
		});
		const before = Date.now();
		const result = await pi(agentDir, sim, "/multicodex use limited@sim.test", "say hi");
		expect(outputOf(result)).toContain("Answered by other@sim.test");
		const limited = readAccountsFile(agentDir).find((a) => a.email === "limited@sim.test");
		expect(limited?.quotaExhaustedUntil ?? 0).toBeGreaterThan(before);
		expect(limited?.quotaExhaustedUntil ?? 0).toBeLessThanOrEqual(Date.now() + 5 * MINUTE_MS);
	});

	it("saves the pinned account as activeEmail and keeps the fields it does not know", async () => {
		const { sim, agentDir } = await setup({
			accounts: [{ email: "a@sim.test" }, { email: "b@sim.test" }],
		});
		const path = join(agentDir, "codex-accounts.json");
		const file = JSON.parse(readFileSync(path, "utf8"));
		file.accounts[1].teamNote = "kept";
		const withUnknown = { ...file, activeEmail: "a@sim.test", newerSetting: { mode: "x" } };
		writeFileSync(path, JSON.stringify(withUnknown, null, 2), { mode: 0o600 });

		const result = await pi(agentDir, sim, "/multicodex use b@sim.test");
		expect(result.code).toBe(0);
		expect(outputOf(result)).toContain("b@sim.test");
		const stored = JSON.parse(readFileSync(path, "utf8"));
		expect(stored.activeEmail).toBe("b@sim.test");
		expect(stored.newerSetting).toEqual({ mode: "x" });
		expect(stored.accounts[1].teamNote).toBe("kept");
	});

	it("answers for an account whose identifier is not ASCII", async () => {
		// Any text is an identifier; a header carries only ASCII, so it goes percent-encoded.
		const identifier = "Jürgen Müller (Team 🚀)";
		const { sim, agentDir } = await setup({ accounts: [{ email: identifier }] });
		const result = await pi(agentDir, sim, "hi");
		expect(outputOf(result)).toContain(`Answered by ${identifier}`);
		expect(result.code).toBe(0);
	});

	it("echoes an unknown subcommand as it was typed", async () => {
		const { sim, agentDir } = await setup({ accounts: [{ email: "a@sim.test" }] });
		const result = await pi(agentDir, sim, "/multicodex Bogus");
		expect(outputOf(result)).toContain("Unknown subcommand: Bogus");
	});
});
