// Session life cycle with the real pi on both lines (SPEC A6, B1, B3, B5): the manual pin
// survives a new session, the footer is set again in the new session without stale-context
// errors, a plan without Codex is flagged and skipped, and the footer starts from the usage
// persisted by an earlier run.
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { writeManagedAccounts } from "./support/accounts-file.ts";
import {
	cleanupTempDirs,
	makeAgentDir,
	modelArgs,
	PI_LINES,
	type RpcPi,
	runPi,
	startRpcPi,
	writeSettingsJson,
} from "./support/pi-runner.ts";
import { answeredBy, isFooter } from "./support/rpc-events.ts";
import { type SimBackend, type SimBackendOptions, startSimBackend } from "./support/sim-backend.ts";
import { findLeakedTokens } from "./support/sim-tokens.ts";

const EXTENSION = resolve(import.meta.dirname, "..", "index.ts");

let backend: SimBackend | undefined;
let rpc: RpcPi | undefined;

afterEach(async () => {
	await rpc?.close();
	rpc = undefined;
	await backend?.close();
	backend = undefined;
});

afterAll(() => cleanupTempDirs());

describe.each(PI_LINES)("life cycle on $name", (line) => {
	async function setup(options: SimBackendOptions) {
		backend = await startSimBackend(options);
		const agentDir = makeAgentDir();
		writeSettingsJson(agentDir);
		return { sim: backend, agentDir };
	}

	it("keeps the manual pin across a new session and sets the footer again", async () => {
		const { sim, agentDir } = await setup({
			accounts: [
				{ email: "best@sim.test", usage: { primaryUsedPercent: 0, secondaryUsedPercent: 0 } },
				{ email: "pinned@sim.test", usage: { primaryUsedPercent: 70, secondaryUsedPercent: 70 } },
			],
		});
		writeManagedAccounts(agentDir, sim, ["best@sim.test", "pinned@sim.test"]);
		rpc = startRpcPi(line, { agentDir, simUrl: sim.url, extensionPath: EXTENSION });
		await rpc.waitFor((e) => isFooter(e, "@sim.test"));
		const pinned = await rpc.send({ type: "prompt", message: "/multicodex use pinned@sim.test" });
		expect(pinned.success).not.toBe(false);
		await rpc.waitFor((e) => e.method === "notify" && String(e.message).includes("Now using"));
		expect(answeredBy(await rpc.promptAndWait("before"))).toBe("pinned@sim.test");

		const from = rpc.events.length;
		const replaced = await rpc.send({ type: "new_session" });
		expect(replaced.success).toBe(true);
		await rpc.waitFor((e) => isFooter(e, "pinned@sim.test"), { from });
		expect(answeredBy(await rpc.promptAndWait("after"))).toBe("pinned@sim.test");
		await rpc.close();
		expect(rpc.stderr).not.toMatch(/stale|Uncaught|Unhandled/i);
		expect(findLeakedTokens(rpc.stderr + JSON.stringify(rpc.events))).toEqual([]);
	});

	it("flags an account whose plan has no Codex, says so, and answers from another", async () => {
		const { sim, agentDir } = await setup({
			accounts: [{ email: "noplan@sim.test", notIncluded: true }, { email: "works@sim.test" }],
		});
		writeManagedAccounts(agentDir, sim, ["noplan@sim.test", "works@sim.test"]);
		const result = await runPi(line, {
			agentDir,
			simUrl: sim.url,
			extensionPath: EXTENSION,
			args: ["--no-session", ...modelArgs(), "-p", "/multicodex use noplan@sim.test", "hi"],
			timeoutMs: 60_000,
		});
		expect(result.code).toBe(0);
		expect(result.stdout).toContain("Answered by works@sim.test");
		expect(result.stderr).toContain("noplan@sim.test cannot use Codex");
		expect(sim.responsesFor("noplan@sim.test")).toHaveLength(1);
		const readNoplan = () =>
			(
				JSON.parse(readFileSync(join(agentDir, "codex-accounts.json"), "utf8")) as {
					accounts: { email: string; codexNotIncluded?: boolean; quotaExhaustedUntil?: number }[];
				}
			).accounts.find((a) => a.email === "noplan@sim.test");
		// Flagged in the file (no cooldown: waiting does not bring it back).
		expect(readNoplan()?.codexNotIncluded).toBe(true);
		expect(readNoplan()?.quotaExhaustedUntil).toBeUndefined();

		// A later run never tries it again.
		const again = await runPi(line, {
			agentDir,
			simUrl: sim.url,
			extensionPath: EXTENSION,
			args: ["--no-session", ...modelArgs(), "-p", "hi again"],
			timeoutMs: 60_000,
		});
		expect(again.code).toBe(0);
		expect(again.stdout).toContain("Answered by works@sim.test");
		expect(sim.responsesFor("noplan@sim.test")).toHaveLength(1);
		expect(readNoplan()?.codexNotIncluded).toBe(true);
	});

	it("shows usage persisted by an earlier run before any usage request returns", async () => {
		const { sim, agentDir } = await setup({
			accounts: [{ email: "known@sim.test" }],
			usageDelayMs: 8000,
		});
		writeManagedAccounts(agentDir, sim, ["known@sim.test"]);
		const fetchedAt = Date.now() - 60_000;
		writeFileSync(
			join(agentDir, "codex-usage-cache.json"),
			JSON.stringify({
				version: 1,
				accounts: {
					"known@sim.test": {
						primary: { usedPercent: 42, resetAt: Date.now() + 3600_000 },
						secondary: { usedPercent: 10, resetAt: Date.now() + 3 * 86_400_000 },
						fetchedAt,
					},
				},
			}),
		);
		rpc = startRpcPi(line, { agentDir, simUrl: sim.url, extensionPath: EXTENSION });
		await rpc.waitFor((e) => isFooter(e, "5h:58% left"), { timeoutMs: 15_000 });
		expect(sim.countRequests({ path: "/backend-api/wham/usage" })).toBe(0);
	});
});
