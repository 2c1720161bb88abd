// Behaviour behind the speed targets (SPEC B3–B6), with the real pi on both lines: one request
// per exhausted account on every transport, the footer follows the rate-limit headers and
// stream events without usage requests, the first answer does not wait for a slow usage
// endpoint, and the account stays put between turns until the proactive threshold.
import { readFileSync } from "node:fs";
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
import { answeredBy, footerTexts } from "./support/rpc-events.ts";
import {
	RESPONSES_PATH,
	type SimBackend,
	type SimBackendOptions,
	startSimBackend,
	USAGE_PATH,
} from "./support/sim-backend.ts";
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

describe.each(PI_LINES)("performance behaviour on $name", (line) => {
	async function setup(options: SimBackendOptions, settings: Record<string, unknown> = {}) {
		backend = await startSimBackend(options);
		const agentDir = makeAgentDir();
		writeSettingsJson(agentDir, settings);
		return { sim: backend, agentDir };
	}

	const transports = line.name === "pi-1.3" ? ["websocket", "sse"] : ["sse"];
	for (const transport of transports) {
		it(`sends exactly one request to an exhausted account (${transport})`, async () => {
			const { sim, agentDir } = await setup(
				{ accounts: [{ email: "empty@sim.test", exhausted: true }, { email: "full@sim.test" }] },
				transport === "sse" ? { transport: "sse" } : {},
			);
			writeManagedAccounts(agentDir, sim, ["empty@sim.test", "full@sim.test"]);
			const result = await runPi(line, {
				agentDir,
				simUrl: sim.url,
				extensionPath: EXTENSION,
				args: ["--no-session", ...modelArgs(), "-p", "/multicodex use empty@sim.test", "hi"],
				timeoutMs: 60_000,
			});
			expect(result.code).toBe(0);
			expect(result.stdout).toContain("Answered by full@sim.test");
			const tried = sim.responsesFor("empty@sim.test");
			expect(tried).toHaveLength(1);
			expect(tried[0]?.transport).toBe(transport === "sse" ? "sse" : "ws");
			expect(findLeakedTokens(`${result.stdout}${result.stderr}`)).toEqual([]);
		});
	}

	it("keeps the footer current from the answer itself, without usage requests", async () => {
		const { sim, agentDir } = await setup({
			accounts: [{ email: "live@sim.test", usage: { primaryUsedPercent: 10 } }],
			wsRateLimitsEvent: true,
		});
		writeManagedAccounts(agentDir, sim, ["live@sim.test"]);
		rpc = startRpcPi(line, { agentDir, simUrl: sim.url, extensionPath: EXTENSION });
		await rpc.waitFor((e) => footerTexts([e]).some((t) => t.includes("5h:90% left")));
		const usageRequestsBefore = sim.countRequests({ path: USAGE_PATH });
		sim.setUsage("live@sim.test", { primaryUsedPercent: 37 });
		const from = rpc.events.length;
		const events = await rpc.promptAndWait("hi");
		expect(answeredBy(events)).toBe("live@sim.test");
		await rpc.waitFor((e) => footerTexts([e]).some((t) => t.includes("5h:63% left")), { from });
		expect(sim.countRequests({ path: USAGE_PATH })).toBe(usageRequestsBefore);
	});

	it("answers the first prompt without waiting for a slow usage endpoint", async () => {
		const { sim, agentDir } = await setup({
			accounts: [{ email: "quick@sim.test" }, { email: "other@sim.test" }],
			usageDelayMs: 3000,
		});
		writeManagedAccounts(agentDir, sim, ["quick@sim.test", "other@sim.test"]);
		const result = await runPi(line, {
			agentDir,
			simUrl: sim.url,
			extensionPath: EXTENSION,
			args: ["--no-session", ...modelArgs(), "-p", "hi"],
			timeoutMs: 60_000,
		});
		expect(result.code).toBe(0);
		expect(result.stdout).toMatch(/Answered by (quick|other)@sim\.test/);
		const answer = sim.state.requests.find((r) => r.path === RESPONSES_PATH && r.status === 200);
		const firstUsageAnswer = sim.state.requests.find((r) => r.path === USAGE_PATH);
		expect(answer).toBeDefined();
		// The answer was requested before any usage answer came back (they take 3 s).
		if (firstUsageAnswer) expect(answer?.at).toBeLessThan(firstUsageAnswer.at);
	});

	it("stays on one account between turns and switches past the proactive threshold", async () => {
		const { sim, agentDir } = await setup(
			{
				accounts: [
					{ email: "first@sim.test", usage: { primaryUsedPercent: 20, secondaryUsedPercent: 20 } },
					{ email: "second@sim.test", usage: { primaryUsedPercent: 30, secondaryUsedPercent: 30 } },
				],
				wsRateLimitsEvent: true,
			},
			{ "pi-multicodex": { rotation: { proactiveSwitchPercent: 80 } } },
		);
		writeManagedAccounts(agentDir, sim, ["first@sim.test", "second@sim.test"]);
		rpc = startRpcPi(line, { agentDir, simUrl: sim.url, extensionPath: EXTENSION });
		// Once the footer shows first's numbers, the first choice no longer depends on which usage
		// answer came back first (an account whose usage is unknown counts as 100 % used, A3).
		await rpc.waitFor((e) =>
			footerTexts([e]).some((t) => t.includes("first@sim.test") && t.includes("5h:80% left")),
		);
		expect(answeredBy(await rpc.promptAndWait("one"))).toBe("first@sim.test");
		// The other account now looks better, but switching would waste the warm prompt cache.
		sim.setUsage("first@sim.test", { primaryUsedPercent: 60 });
		expect(answeredBy(await rpc.promptAndWait("two"))).toBe("first@sim.test");
		expect(answeredBy(await rpc.promptAndWait("three"))).toBe("first@sim.test");
		// The answer to "three" reported 60 %; past 80 % the next turn moves on.
		sim.setUsage("first@sim.test", { primaryUsedPercent: 85 });
		expect(answeredBy(await rpc.promptAndWait("four"))).toBe("first@sim.test");
		expect(answeredBy(await rpc.promptAndWait("five"))).toBe("second@sim.test");
	});

	it("shows the rotation policy built from the settings in force", async () => {
		const { sim, agentDir } = await setup(
			{ accounts: [{ email: "x@sim.test" }] },
			{ "pi-multicodex": { rotation: { strategy: "fill-first", retryCount: 2 } } },
		);
		writeManagedAccounts(agentDir, sim, ["x@sim.test"]);
		const result = await runPi(line, {
			agentDir,
			simUrl: sim.url,
			extensionPath: EXTENSION,
			args: ["--no-session", ...modelArgs(), "-p", "/multicodex rotation"],
			timeoutMs: 60_000,
		});
		expect(result.code).toBe(0);
		expect(result.stderr).toContain("rotation: strategy=fill-first preferUntouched=on retries=2");
		expect(result.stderr).toContain(
			"the first available account in list order, kept until it runs out or passes 90%",
		);
		expect(result.stderr).toContain("up to 2 retries");
		const settings = JSON.parse(readFileSync(join(agentDir, "settings.json"), "utf8"));
		expect(settings.defaultProvider).toBe("openai-codex");
	});
});
