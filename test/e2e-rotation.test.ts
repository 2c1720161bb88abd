// End to end with the real pi CLI on both lines against the simulated Codex backend: with the
// round-robin strategy, separate `pi -p` runs take turns across the accounts (each run is a new
// session that goes on after the account the last one used), and each keeps its account; a
// session stays on the account it was pinned to once the pin is cleared.
import { resolve } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { readAccountsFile, writeManagedAccounts } from "./support/accounts-file.ts";
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
import { type SimBackend, startSimBackend, USAGE_PATH } from "./support/sim-backend.ts";
import { findLeakedTokens } from "./support/sim-tokens.ts";

const EXTENSION = resolve(import.meta.dirname, "..", "index.ts");
const EMAILS = ["a@sim.test", "b@sim.test", "c@sim.test", "d@sim.test"];

let backend: SimBackend | undefined;
let rpc: RpcPi | undefined;

afterEach(async () => {
	await rpc?.close();
	rpc = undefined;
	await backend?.close();
	backend = undefined;
});

afterAll(() => cleanupTempDirs());

describe.each(PI_LINES)("round-robin on $name", (line) => {
	it("moves on to the next account with each new pi run", async () => {
		const sim = await startSimBackend({ accounts: EMAILS.map((email) => ({ email })) });
		backend = sim;
		const agentDir = makeAgentDir();
		writeSettingsJson(agentDir, { "pi-multicodex": { rotation: { strategy: "round-robin" } } });
		writeManagedAccounts(agentDir, sim, EMAILS);

		const answeredBy: string[] = [];
		for (let run = 0; run < 5; run++) {
			const result = await runPi(line, {
				agentDir,
				simUrl: sim.url,
				extensionPath: EXTENSION,
				args: ["--no-session", ...modelArgs(), "-p", "hi"],
				timeoutMs: 60_000,
			});
			expect(result.code).toBe(0);
			expect(result.timedOut).toBe(false);
			expect(findLeakedTokens(`${result.stdout}\n${result.stderr}`)).toEqual([]);
			answeredBy.push(result.stdout.match(/Answered by (\S+)/)?.[1] ?? "none");
		}
		expect(answeredBy).toEqual([...EMAILS, EMAILS[0]]);
		expect(readAccountsFile(agentDir).map((a) => a.email)).toEqual(EMAILS);
	});

	it("keeps one account for every turn of a run", async () => {
		const sim = await startSimBackend({ accounts: EMAILS.map((email) => ({ email })) });
		backend = sim;
		const agentDir = makeAgentDir();
		writeSettingsJson(agentDir, { "pi-multicodex": { rotation: { strategy: "round-robin" } } });
		writeManagedAccounts(agentDir, sim, EMAILS);

		const result = await runPi(line, {
			agentDir,
			simUrl: sim.url,
			extensionPath: EXTENSION,
			args: ["--no-session", ...modelArgs(), "-p", "one", "two", "three"],
			timeoutMs: 60_000,
		});
		expect(result.code).toBe(0);
		// pi -p prints the last answer only: the backend tells who answered each prompt.
		expect(result.stdout).toContain("Answered by a@sim.test");
		expect(EMAILS.map((email) => sim.responsesFor(email).length)).toEqual([3, 0, 0, 0]);
	});

	it("stays on the pinned account that answered once the pin is cleared", async () => {
		const sim = await startSimBackend({
			accounts: [
				{ email: "normal@sim.test", usage: { primaryUsedPercent: 20, secondaryUsedPercent: 20 } },
				{ email: "busy@sim.test", usage: { primaryUsedPercent: 60, secondaryUsedPercent: 60 } },
			],
		});
		backend = sim;
		const agentDir = makeAgentDir();
		writeSettingsJson(agentDir, {
			"pi-multicodex": { rotation: { proactiveSwitchPercent: "off" } },
		});
		writeManagedAccounts(agentDir, sim, ["normal@sim.test", "busy@sim.test"]);
		rpc = startRpcPi(line, { agentDir, simUrl: sim.url, extensionPath: EXTENSION });
		await rpc.waitFor((e) => isFooter(e, "normal@sim.test"));
		// The start-up usage requests have been answered: the first choice is by usage, not blind.
		for (const email of ["normal@sim.test", "busy@sim.test"]) {
			await expect.poll(() => sim.countRequests({ path: USAGE_PATH, email })).toBeGreaterThan(0);
		}
		expect(answeredBy(await rpc.promptAndWait("first"))).toBe("normal@sim.test");

		await rpc.send({ type: "prompt", message: "/multicodex use busy@sim.test" });
		await rpc.waitFor((e) => e.method === "notify" && String(e.message).includes("Now using"));
		expect(answeredBy(await rpc.promptAndWait("pinned"))).toBe("busy@sim.test");

		const from = rpc.events.length;
		await rpc.send({ type: "prompt", message: "/multicodex reset manual" });
		await rpc.waitFor((e) => e.method === "notify" && String(e.message).includes("reset:"), {
			from,
		});
		expect(answeredBy(await rpc.promptAndWait("after the reset"))).toBe("busy@sim.test");
	});
});
