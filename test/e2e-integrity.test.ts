// End to end on both pi lines (SPEC B7, B8, B11, B13): several pi processes sharing one agent
// dir refresh an expired token exactly once; a damaged accounts file is copied aside and its
// valid accounts still answer; backend faults end in a clear error within bounded time and an
// abort is honoured at once; pi 1.x's failed own login is explained; on the WebSocket transport
// a rotated request goes out with the new account's token on a new socket. Everything captured
// is scanned for tokens at the end.
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { readAccountsFile, storedAccountOf, writeAccountsFile } from "./support/accounts-file.ts";
import { CapturedOutput } from "./support/leak-scan.ts";
import {
	cleanupTempDirs,
	makeAgentDir,
	modelArgs,
	PI_LINES,
	type RpcEvent,
	type RpcPi,
	type RunPiResult,
	runPi,
	startRpcPi,
	writeAuthJson,
	writeSettingsJson,
} from "./support/pi-runner.ts";
import { type SimBackend, type SimBackendOptions, startSimBackend } from "./support/sim-backend.ts";

const EXTENSION = resolve(import.meta.dirname, "..", "index.ts");
const ACCOUNTS_FILE = "codex-accounts.json";

function writeAccountsText(agentDir: string, text: string): string {
	const path = join(agentDir, ACCOUNTS_FILE);
	writeFileSync(path, text, { mode: 0o600 });
	return path;
}

/** Settings for fault tests: pi's own retries off, so each fault shows its own error at once. */
const NO_PI_RETRIES = { retry: { enabled: false, provider: { maxRetries: 0 } } };

const captured = new CapturedOutput();
let backend: SimBackend | undefined;
const rpcs: RpcPi[] = [];

afterEach(async () => {
	for (const rpc of rpcs.splice(0)) {
		captured.add("rpc stderr", rpc.stderr);
		captured.addJson("rpc events", rpc.events);
		await rpc.close();
	}
	await backend?.close();
	backend = undefined;
});

afterAll(() => {
	// B11: no token the tests used appears in anything pi or the extension showed or wrote.
	const leaks = captured.findLeaks();
	console.info(
		`leak scan: ${captured.size} captured texts and ${captured.scannedFileCount()} agent-dir files`,
	);
	cleanupTempDirs();
	expect(leaks).toEqual([]);
});

function assistantEnds(events: RpcEvent[]): Record<string, unknown>[] {
	return events
		.filter((e) => e.type === "message_end")
		.map((e) => e.message as Record<string, unknown>)
		.filter((m) => m.role === "assistant");
}

function notifications(events: RpcEvent[]): string[] {
	return events
		.filter((e) => e.type === "extension_ui_request" && e.method === "notify")
		.map((e) => String(e.message));
}

describe.each(PI_LINES)("integrity on $name", (line) => {
	async function setup(options: SimBackendOptions, settings: Record<string, unknown> = {}) {
		backend = await startSimBackend(options);
		const agentDir = makeAgentDir();
		writeSettingsJson(agentDir, settings);
		captured.addAgentDir(agentDir);
		return { sim: backend, agentDir };
	}

	function piPrint(agentDir: string, sim: SimBackend, message: string): Promise<RunPiResult> {
		return runPi(line, {
			agentDir,
			simUrl: sim.url,
			extensionPath: EXTENSION,
			args: ["--no-session", ...modelArgs(), "-p", message],
			timeoutMs: 60_000,
		}).then((result) => {
			captured.add(`${line.name} stdout`, result.stdout);
			captured.add(`${line.name} stderr`, result.stderr);
			return result;
		});
	}

	function rpc(agentDir: string, sim: SimBackend): RpcPi {
		const pi = startRpcPi(line, { agentDir, simUrl: sim.url, extensionPath: EXTENSION });
		rpcs.push(pi);
		return pi;
	}

	it("4 pi processes started together with one expired account: one refresh, every prompt answered", async () => {
		const { sim, agentDir } = await setup({
			accounts: [{ email: "shared@sim.test" }],
			// A slow token endpoint widens the window in which the processes race.
			tokenDelayMs: 400,
		});
		const expired = sim.issueTokens("shared@sim.test", { expiresInSec: 60 });
		writeAccountsFile(agentDir, [storedAccountOf(expired)]);

		const started = Date.now();
		const results = await Promise.all(
			[1, 2, 3, 4].map((n) => piPrint(agentDir, sim, `prompt ${n}`)),
		);
		const elapsed = Date.now() - started;

		for (const result of results) {
			expect(result.timedOut).toBe(false);
			expect(result.code, result.stderr).toBe(0);
			expect(result.stdout).toContain("Answered by shared@sim.test");
		}
		const grants = sim.refreshGrants();
		expect(grants.map((g) => g.status)).toEqual([200]);
		const [stored] = readAccountsFile(agentDir);
		expect(stored?.needsReauth).toBeUndefined();
		expect(stored?.refreshToken).not.toBe(expired.refresh);
		expect(stored?.expiresAt).toBeGreaterThan(Date.now() + 30 * 60_000);
		// Every answer used the refreshed token.
		const answered = sim.responsesFor("shared@sim.test").filter((r) => r.status === 200);
		expect(answered.length).toBeGreaterThanOrEqual(4);
		expect(new Set(answered.map((r) => r.tokenId))).toEqual(
			new Set([sim.tokenId(stored?.accessToken ?? "")]),
		);
		console.info(`${line.name}: 4 processes, ${grants.length} refresh, ${elapsed} ms`);
	});

	it("a cooldown saved by another pi process is honoured at once, without a restart", async () => {
		const { sim, agentDir } = await setup({
			accounts: [{ email: "first@sim.test" }, { email: "second@sim.test" }],
		});
		writeAccountsFile(agentDir, [
			storedAccountOf(sim.issueTokens("first@sim.test")),
			storedAccountOf(sim.issueTokens("second@sim.test")),
		]);
		const pi = rpc(agentDir, sim);
		const pinFrom = pi.events.length;
		await pi.send({ type: "prompt", message: "/multicodex use first@sim.test" });
		await pi.waitFor(
			(e) => e.type === "extension_ui_request" && String(e.message).includes("first@sim.test"),
			{ from: pinFrom, timeoutMs: 20_000 },
		);
		const [before] = assistantEnds(await pi.promptAndWait("hello", 60_000));
		expect(JSON.stringify(before?.content)).toContain("Answered by first@sim.test");

		// Another window meets first's exhausted quota and saves its cooldown.
		sim.setExhausted("first@sim.test");
		const other = await runPi(line, {
			agentDir,
			simUrl: sim.url,
			extensionPath: EXTENSION,
			args: ["--no-session", ...modelArgs(), "-p", "/multicodex use first@sim.test", "hi"],
			timeoutMs: 60_000,
		});
		captured.add("other window stdout", other.stdout);
		captured.add("other window stderr", other.stderr);
		expect(other.stdout).toContain("Answered by second@sim.test");
		const firstRequests = sim.responsesFor("first@sim.test").length;

		// This window still has first pinned, but sees the cooldown and goes to second directly.
		const [after] = assistantEnds(await pi.promptAndWait("hello again", 60_000));
		expect(JSON.stringify(after?.content)).toContain("Answered by second@sim.test");
		expect(sim.responsesFor("first@sim.test").length).toBe(firstRequests);
	});

	it("keeps a truncated accounts file byte for byte, says where, and answers with the account it kept", async () => {
		const { sim, agentDir } = await setup({
			accounts: [{ email: "kept@sim.test" }, { email: "cut@sim.test" }],
		});
		const full = JSON.stringify(
			{
				version: 1,
				accounts: [
					storedAccountOf(sim.issueTokens("kept@sim.test")),
					storedAccountOf(sim.issueTokens("cut@sim.test")),
				],
			},
			null,
			2,
		);
		const truncated = full.slice(0, full.indexOf("cut@sim.test") + 20);
		writeAccountsText(agentDir, truncated);

		const result = await piPrint(agentDir, sim, "say hi");

		expect(result.code, result.stderr).toBe(0);
		expect(result.stdout).toContain("Answered by kept@sim.test");
		const backups = readdirSync(agentDir).filter((n) => n.startsWith(`${ACCOUNTS_FILE}.damaged-`));
		expect(backups).toHaveLength(1);
		const backup = join(agentDir, backups[0] as string);
		expect(readFileSync(backup, "utf8")).toBe(truncated);
		expect(statSync(backup).mode & 0o777).toBe(0o600);
		expect(result.stderr).toContain(`was damaged`);
		expect(result.stderr).toContain(backup);
		expect(readAccountsFile(agentDir).map((a) => a.email)).toEqual(["kept@sim.test"]);
	});

	it("keeps a file with wrong shapes aside, warns in RPC, and still uses the valid accounts", async () => {
		const { sim, agentDir } = await setup({ accounts: [{ email: "valid@sim.test" }] });
		const text = JSON.stringify({
			version: 1,
			accounts: [
				{ email: "broken@sim.test", accessToken: 42, refreshToken: null, expiresAt: "soon" },
				storedAccountOf(sim.issueTokens("valid@sim.test")),
				"not an account",
			],
			activeEmail: 7,
		});
		writeAccountsText(agentDir, text);

		const pi = rpc(agentDir, sim);
		const events = await pi.promptAndWait("say hi", 60_000);

		const [answer] = assistantEnds(events);
		expect(answer?.stopReason).toBe("stop");
		expect(JSON.stringify(answer?.content)).toContain("Answered by valid@sim.test");
		const backups = readdirSync(agentDir).filter((n) => n.startsWith(`${ACCOUNTS_FILE}.damaged-`));
		expect(backups).toHaveLength(1);
		expect(readFileSync(join(agentDir, backups[0] as string), "utf8")).toBe(text);
		const warning = notifications(pi.events).find((m) => m.includes("was damaged"));
		expect(warning).toContain(join(agentDir, backups[0] as string));
		expect(warning).toContain("1 valid account(s) were kept");
		expect(readAccountsFile(agentDir).map((a) => a.email)).toEqual(["valid@sim.test"]);
	});

	it("ends backend faults with a clear error in bounded time and honours an abort at once", async () => {
		const { sim, agentDir } = await setup(
			// Usage answers take 30 s: no request may wait for them.
			{ accounts: [{ email: "steady@sim.test" }], usageDelayMs: 30_000 },
			NO_PI_RETRIES,
		);
		const creds = sim.issueTokens("steady@sim.test");
		writeAccountsFile(agentDir, [storedAccountOf(creds)]);
		const pi = rpc(agentDir, sim);
		const timings: Record<string, number> = {};

		const ask = async (label: string) => {
			const started = Date.now();
			const events = await pi.promptAndWait(label, 60_000);
			timings[label] = Date.now() - started;
			const [answer] = assistantEnds(events);
			expect(answer, label).toBeDefined();
			return answer as Record<string, unknown>;
		};

		const plain = await ask("plain answer while usage is slow");
		expect(plain.stopReason).toBe("stop");
		expect(timings["plain answer while usage is slow"]).toBeLessThan(10_000);

		for (const [kind, expected] of [
			["http500", /server error|500/i],
			["reset", /fetch failed|terminated|socket|closed|reset|connection/i],
			["malformed", /JSON/i],
		] as const) {
			sim.fault({ kind, times: 10 });
			const answer = await ask(`fault ${kind}`);
			sim.clearFaults();
			expect(answer.stopReason, kind).toBe("error");
			expect(String(answer.errorMessage), kind).toMatch(expected);
			expect(timings[`fault ${kind}`], kind).toBeLessThan(20_000);
		}

		// A stream that stalls after the first words: the user's abort ends it at once.
		sim.fault({ kind: "stall", ms: 120_000 });
		const from = pi.events.length;
		const prompt = await pi.send({ type: "prompt", message: "stall" });
		expect(prompt.success).not.toBe(false);
		await pi.waitFor((e) => e.type === "message_update", { from, timeoutMs: 20_000 });
		const abortAt = Date.now();
		await pi.send({ type: "abort" });
		await pi.waitFor((e) => e.type === line.settledEvent, { from, timeoutMs: 10_000 });
		timings["abort of a stalled stream"] = Date.now() - abortAt;
		sim.clearFaults();
		expect(assistantEnds(pi.events.slice(from))[0]?.stopReason).toBe("aborted");
		expect(timings["abort of a stalled stream"]).toBeLessThan(2_000);

		// A token refresh that never answers (written by "another window"): abort is honoured too.
		sim.state.options.tokenDelayMs = 120_000;
		writeAccountsFile(agentDir, [storedAccountOf(creds, { expiresAt: Date.now() + 60_000 })]);
		const refreshFrom = pi.events.length;
		await pi.send({ type: "prompt", message: "needs a refresh" });
		await new Promise((r) => setTimeout(r, 1_500));
		expect(sim.refreshGrants().length).toBe(0); // still waiting for the token endpoint
		const refreshAbortAt = Date.now();
		await pi.send({ type: "abort" });
		await pi.waitFor((e) => e.type === line.settledEvent, {
			from: refreshFrom,
			timeoutMs: 10_000,
		});
		timings["abort during a slow refresh"] = Date.now() - refreshAbortAt;
		expect(timings["abort during a slow refresh"]).toBeLessThan(2_000);
		expect(assistantEnds(pi.events.slice(refreshFrom))[0]?.stopReason).toBe("aborted");
		// The abort is not blamed on the account: no warning, no flag.
		expect(notifications(pi.events.slice(refreshFrom))).toEqual([]);
		expect(readAccountsFile(agentDir)[0]?.needsReauth).toBeUndefined();
		console.info(`${line.name} fault timings (ms): ${JSON.stringify(timings)}`);
	});

	it("explains a failed refresh of pi's own login (pi 1.x fails before Multicodex runs)", async () => {
		const { sim, agentDir } = await setup({
			accounts: [{ email: "pilogin@sim.test" }, { email: "managed@sim.test" }],
		});
		const piLogin = sim.issueTokens("pilogin@sim.test", { expiresInSec: -60 });
		writeAuthJson(agentDir, { ...piLogin, refresh: "sim-refresh-not-known-to-the-backend" });
		writeAccountsFile(agentDir, [storedAccountOf(sim.issueTokens("managed@sim.test"))]);

		const pi = rpc(agentDir, sim);
		const events = await pi.promptAndWait("say hi", 60_000);
		const [answer] = assistantEnds(events);
		if (line.name === "pi-1.3") {
			expect(answer?.stopReason).toBe("error");
			expect(String(answer?.errorMessage)).toContain("OAuth refresh failed for openai-codex");
			expect(String(answer?.errorMessage)).toMatch(
				/Run \/login openai-codex to log in again, or \/logout openai-codex/,
			);
			expect(notifications(pi.events).some((m) => m.includes("/logout openai-codex"))).toBe(true);
		} else {
			// pi 0.73 reports its failed refresh elsewhere and lets Multicodex choose an account.
			expect(answer?.stopReason).toBe("stop");
			expect(JSON.stringify(answer?.content)).toContain("Answered by managed@sim.test");
		}
	});
});

describe("WebSocket rotation on pi-1.3 (B13)", () => {
	const line = PI_LINES.find((l) => l.name === "pi-1.3");
	if (!line) throw new Error("pi-1.3 line missing");

	it("a switched or rotated request goes out with the new account's token on a new socket, even in one workspace", async () => {
		// Two users of one ChatGPT workspace: same account id, different e-mail and token. pi
		// caches a socket per session and account id, so only Multicodex can tell them apart.
		backend = await startSimBackend({
			accounts: [
				{ email: "alice@sim.test", accountId: "acct-shared-workspace" },
				{ email: "bob@sim.test", accountId: "acct-shared-workspace" },
			],
		});
		const sim = backend;
		const agentDir = makeAgentDir();
		writeSettingsJson(agentDir);
		captured.addAgentDir(agentDir);
		const alice = sim.issueTokens("alice@sim.test");
		const bob = sim.issueTokens("bob@sim.test");
		writeAccountsFile(agentDir, [storedAccountOf(alice), storedAccountOf(bob)]);
		const pi = startRpcPi(line, { agentDir, simUrl: sim.url, extensionPath: EXTENSION });
		rpcs.push(pi);

		const use = async (email: string) => {
			// A command is handled without a turn: wait for its notification.
			const from = pi.events.length;
			await pi.send({ type: "prompt", message: `/multicodex use ${email}` });
			await pi.waitFor(
				(e) =>
					e.type === "extension_ui_request" &&
					e.method === "notify" &&
					String(e.message).includes(email),
				{ from, timeoutMs: 20_000 },
			);
		};
		const answeredBy = async (message: string) => {
			const [answer] = assistantEnds(await pi.promptAndWait(message, 60_000));
			expect(answer?.stopReason).toBe("stop");
			return /Answered by ([\w.@-]+)/.exec(JSON.stringify(answer?.content))?.[1];
		};

		await use("alice@sim.test");
		expect(await answeredBy("first")).toBe("alice@sim.test");
		// Switched by hand between turns: alice's socket stays cached by pi, it must not be used.
		await use("bob@sim.test");
		expect(await answeredBy("second")).toBe("bob@sim.test");
		// Rotated within a turn: alice is pinned but out of quota, the retry goes to bob.
		sim.setExhausted("alice@sim.test");
		await use("alice@sim.test");
		expect(await answeredBy("third")).toBe("bob@sim.test");

		const messages = sim.state.requests.filter((r) => r.transport === "ws" && r.method === "WS");
		const tokenOf = {
			"alice@sim.test": sim.tokenId(alice.access),
			"bob@sim.test": sim.tokenId(bob.access),
		};
		expect(messages.map((r) => `${r.email}:${r.status}`)).toEqual([
			"alice@sim.test:200",
			"bob@sim.test:200",
			"alice@sim.test:429",
			"bob@sim.test:200",
		]);
		for (const record of messages) {
			const socket = sim.state.wsConnections.find((c) => c.id === record.wsConnectionId);
			expect(socket?.tokenId).toBe(tokenOf[record.email as keyof typeof tokenOf]);
			expect(record.accountId).toBe("acct-shared-workspace");
		}
		// Each change of account opened a socket of its own.
		const socketIds = messages.map((r) => r.wsConnectionId);
		expect(socketIds[1]).not.toBe(socketIds[0]);
		expect(socketIds[3]).not.toBe(socketIds[2]);
		// Two users of one workspace stay two accounts.
		expect(
			readAccountsFile(agentDir)
				.map((a) => a.email)
				.sort(),
		).toEqual(["alice@sim.test", "bob@sim.test"]);
	});
});
