// Proves the simulated Codex backend, the network preload and the pi runner work with both pi
// lines and WITHOUT the extension: plain `pi -p` logins, pi's own token refresh, single-use
// refresh tokens, zstd SSE bodies (1.x), the wham usage endpoint, OAuth PKCE and the 429 path.
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
	cleanupTempDirs,
	makeAgentDir,
	modelArgs,
	PI_LINES,
	type PiLine,
	PRELOAD_PATH,
	type RunPiResult,
	runPi,
	SIM_MODEL,
	startRpcPi,
	writeAuthJson,
	writeSettingsJson,
} from "./support/pi-runner.ts";
import {
	RESPONSES_PATH,
	SIM_CLIENT_ID,
	type SimBackend,
	startSimBackend,
} from "./support/sim-backend.ts";
import { decodeSimToken, findLeakedTokens } from "./support/sim-tokens.ts";

const CLIENT_ID = SIM_CLIENT_ID;

function expectNoLeaks(result: RunPiResult): void {
	expect(findLeakedTokens(`${result.stdout}\n${result.stderr}`)).toEqual([]);
}

function postForm(backend: SimBackend, fields: Record<string, string>): Promise<Response> {
	return fetch(`${backend.url}/oauth/token`, {
		method: "POST",
		headers: { "content-type": "application/x-www-form-urlencoded" },
		body: new URLSearchParams(fields),
	});
}

/** Run a small ESM snippet under a pi line's Node with the network preload. */
function runWithPreload(line: PiLine, code: string, env: Record<string, string>) {
	return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
		const child = spawn(line.node, ["--import", PRELOAD_PATH, "--input-type=module", "-e", code], {
			env: { PATH: process.env.PATH ?? "", MULTICODEX_SIM_BLOCK_OTHER: "1", ...env },
			stdio: ["ignore", "pipe", "pipe"],
		});
		let stdout = "";
		let stderr = "";
		child.stdout.on("data", (chunk) => {
			stdout += chunk;
		});
		child.stderr.on("data", (chunk) => {
			stderr += chunk;
		});
		const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
		child.on("close", (exitCode) => {
			clearTimeout(timer);
			resolve({ code: exitCode, stdout, stderr });
		});
	});
}

afterAll(() => cleanupTempDirs());

describe("sim backend (direct)", () => {
	let backend: SimBackend;
	beforeAll(async () => {
		backend = await startSimBackend({
			accounts: [
				{ email: "usage@example.test", usage: { primaryUsedPercent: 42, secondaryUsedPercent: 7 } },
			],
		});
	});
	afterAll(() => backend.close());

	it("issues atob-decodable JWT-shaped tokens carrying account id and email", () => {
		const creds = backend.issueTokens("usage@example.test");
		const payload = decodeSimToken(creds.access);
		expect(payload?.["https://api.openai.com/auth"].chatgpt_account_id).toBe(creds.accountId);
		expect(payload?.["https://api.openai.com/profile"].email).toBe("usage@example.test");
		expect(creds.refresh).toMatch(/^sim-refresh-/);
		expect(backend.issueTokens("usage@example.test").access).not.toBe(creds.access);
	});

	it("answers GET /backend-api/wham/usage for a valid bearer and rejects others", async () => {
		const creds = backend.issueTokens("usage@example.test");
		const url = `${backend.url}/backend-api/wham/usage`;
		const ok = await fetch(url, {
			headers: { authorization: `Bearer ${creds.access}`, "ChatGPT-Account-Id": creds.accountId },
		});
		expect(ok.status).toBe(200);
		const body = await ok.json();
		expect(body.plan_type).toBe("plus");
		expect(body.rate_limit.primary_window).toMatchObject({
			used_percent: 42,
			limit_window_seconds: 18_000,
		});
		expect(body.rate_limit.secondary_window).toMatchObject({
			used_percent: 7,
			limit_window_seconds: 604_800,
		});
		expect((await fetch(url)).status).toBe(401);
		const mismatch = await fetch(url, {
			headers: { authorization: `Bearer ${creds.access}`, "ChatGPT-Account-Id": "someone-else" },
		});
		expect(mismatch.status).toBe(401);

		backend.state.options.usageDelayMs = 300;
		backend.state.options.usageFailStatus = 503;
		const started = Date.now();
		const failed = await fetch(url, { headers: { authorization: `Bearer ${creds.access}` } });
		expect(failed.status).toBe(503);
		expect(Date.now() - started).toBeGreaterThanOrEqual(250);
		backend.state.options.usageDelayMs = 0;
		backend.state.options.usageFailStatus = 0;
	});

	it("runs the OAuth authorize + PKCE code exchange, codes and refresh tokens are single use", async () => {
		const verifier = randomBytes(32).toString("base64url");
		const challenge = createHash("sha256").update(verifier).digest("base64url");
		const redirectUri = "http://localhost:1455/auth/callback";
		backend.state.options.nextLoginEmail = "usage@example.test";
		const authorize = new URL(`${backend.url}/oauth/authorize`);
		for (const [k, v] of Object.entries({
			response_type: "code",
			client_id: CLIENT_ID,
			redirect_uri: redirectUri,
			scope: "openid profile email offline_access",
			code_challenge: challenge,
			code_challenge_method: "S256",
			state: "st4te",
		})) {
			authorize.searchParams.set(k, v);
		}
		const redirect = await fetch(authorize, { redirect: "manual" });
		expect(redirect.status).toBe(302);
		const location = new URL(redirect.headers.get("location") ?? "");
		expect(location.origin + location.pathname).toBe(redirectUri);
		expect(location.searchParams.get("state")).toBe("st4te");
		const code = location.searchParams.get("code") ?? "";

		const exchange = (codeVerifier: string) =>
			postForm(backend, {
				grant_type: "authorization_code",
				client_id: CLIENT_ID,
				code,
				code_verifier: codeVerifier,
				redirect_uri: redirectUri,
			});
		const tokens = await (await exchange(verifier)).json();
		expect(decodeSimToken(tokens.access_token)?.email).toBe("usage@example.test");
		expect(tokens).toMatchObject({ expires_in: 3600, token_type: "Bearer" });
		expect(typeof tokens.id_token).toBe("string");
		expect((await exchange(verifier)).status).toBe(400); // code already used

		const refresh = (token: string) =>
			postForm(backend, {
				grant_type: "refresh_token",
				refresh_token: token,
				client_id: CLIENT_ID,
			});
		const refreshed = await refresh(tokens.refresh_token);
		expect(refreshed.status).toBe(200);
		const reused = await refresh(tokens.refresh_token);
		expect(reused.status).toBe(400);
		expect(await reused.json()).toMatchObject({ error: "invalid_grant" });
	});

	it("serves faults, exhaustion and rate-limit headers on the SSE endpoint", async () => {
		const creds = backend.issueTokens("usage@example.test");
		const post = () =>
			fetch(`${backend.url}${RESPONSES_PATH}`, {
				method: "POST",
				headers: { authorization: `Bearer ${creds.access}`, "chatgpt-account-id": creds.accountId },
				body: JSON.stringify({ model: SIM_MODEL, input: [] }),
			});
		backend.fault({ kind: "http500" });
		expect((await post()).status).toBe(500);
		backend.fault({ kind: "malformed" });
		expect(await (await post()).text()).toContain("data: {this is not json");
		backend.fault({ kind: "reset" });
		await expect(post()).rejects.toThrow();
		backend.fault({ kind: "delay", ms: 200 });
		const started = Date.now();
		await (await post()).text();
		expect(Date.now() - started).toBeGreaterThanOrEqual(180);
		const ok = await post();
		expect(ok.headers.get("x-codex-primary-used-percent")).toBe("42");
		expect(ok.headers.get("x-codex-secondary-window-minutes")).toBe("10080");
		expect(await ok.text()).toContain('"type":"response.completed"');
		backend.setExhausted("usage@example.test");
		const limited = await post();
		expect(limited.status).toBe(429);
		expect((await limited.json()).error).toMatchObject({
			code: "usage_limit_reached",
			plan_type: "plus",
		});
		expect(limited.headers.get("x-codex-primary-reset-at")).toMatch(/^\d+$/);
		backend.setExhausted("usage@example.test", false);
	});
});

describe("network preload", () => {
	let backend: SimBackend;
	beforeAll(async () => {
		backend = await startSimBackend({
			accounts: [{ email: "preload@example.test" }],
			wsRateLimitsEvent: true,
		});
	});
	afterAll(() => backend.close());

	it.each(PI_LINES)(
		"rewrites fetch (also later-assigned) and WebSocket, blocks other hosts on $name",
		async (line) => {
			const creds = backend.issueTokens("preload@example.test");
			const code = `
			const headers = { authorization: "Bearer " + process.env.T, "chatgpt-account-id": process.env.A };
			const usage = await fetch(new Request("https://chatgpt.com/backend-api/wham/usage?x=1", { headers }));
			console.log("usage", usage.status);
			try { await fetch("https://example.com/"); } catch (e) { console.log("blocked", /network-preload/.test(e.message)); }
			const original = globalThis.fetch;
			globalThis.fetch = (input, init) => original(input, init);
			const authorize = await fetch(new URL("https://auth.openai.com/oauth/authorize?response_type=code"));
			console.log("later-assigned", authorize.status);
			if (typeof WebSocket === "function") {
				const ws = new WebSocket("wss://chatgpt.com/backend-api/codex/responses", { headers });
				console.log("instanceof", ws instanceof WebSocket, WebSocket.OPEN);
				const types = [];
				await new Promise((resolve, reject) => {
					ws.addEventListener("open", () => ws.send(JSON.stringify({ type: "response.create", model: "m", input: [] })));
					ws.addEventListener("message", (event) => {
						const data = JSON.parse(event.data);
						types.push(data.type);
						if (data.type === "response.completed") { ws.close(); resolve(); }
					});
					ws.addEventListener("error", () => reject(new Error("ws error")));
				});
				console.log("ws", types[0], types.at(-1));
			}
		`;
			const result = await runWithPreload(line, code, {
				MULTICODEX_SIM_URL: backend.url,
				T: creds.access,
				A: creds.accountId,
			});
			expect(result.stderr).toBe("");
			expect(result.stdout).toContain("usage 200");
			expect(result.stdout).toContain("blocked true");
			expect(result.stdout).toContain("later-assigned 400"); // reached the simulator's authorize validation
			if (line.name === "pi-1.3") {
				expect(result.stdout).toContain("instanceof true 1");
				expect(result.stdout).toContain("ws codex.rate_limits response.completed");
			}
			expect(findLeakedTokens(result.stdout)).toEqual([]);
		},
	);
});

describe.each(PI_LINES)("$name against the simulator (no extension)", (line) => {
	let backend: SimBackend;
	const isV1 = line.name === "pi-1.3";

	beforeAll(async () => {
		backend = await startSimBackend({
			accounts: [
				{ email: "alice@example.test" },
				{ email: "bob@example.test" },
				{ email: "carol@example.test", exhausted: true },
				{ email: "dave@example.test" },
				{ email: "erin@example.test" },
			],
		});
	});
	afterAll(() => backend.close());

	function prepare(email: string, settings: Record<string, unknown> = {}, expiresInSec?: number) {
		const agentDir = makeAgentDir();
		const creds = backend.issueTokens(email, { expiresInSec });
		writeAuthJson(agentDir, creds);
		writeSettingsJson(agentDir, settings);
		return { agentDir, creds };
	}

	function piPrint(agentDir: string, timeoutMs = 30_000) {
		return runPi(line, {
			args: ["-p", "say hi", ...modelArgs()],
			agentDir,
			simUrl: backend.url,
			timeoutMs,
		});
	}

	it("answers `pi -p` from the logged-in account", async () => {
		const { agentDir, creds } = prepare("alice@example.test");
		const result = await piPrint(agentDir);
		expect(result.stderr).toBe("");
		expect(result.stdout).toContain("Answered by alice@example.test");
		expect(result.code).toBe(0);
		expectNoLeaks(result);
		const records = backend.responsesFor("alice@example.test");
		expect(records).toHaveLength(1);
		// pi 0.73 on Node 20 has no global WebSocket: its "auto" transport falls back to SSE.
		// pi 1.3 on Node 22 uses the WebSocket transport by default.
		expect(records[0]).toMatchObject({
			transport: isV1 ? "ws" : "sse",
			status: 200,
			tokenId: backend.tokenId(creds.access),
		});
		expect((records[0]?.body as { model?: string } | undefined)?.model).toBe(SIM_MODEL);
	});

	it("refreshes an expired pi login once via POST /oauth/token; the old refresh token is then refused", async () => {
		const { agentDir, creds } = prepare("bob@example.test", {}, -60);
		const result = await piPrint(agentDir);
		expect(result.stdout).toContain("Answered by bob@example.test");
		expect(result.code).toBe(0);
		expectNoLeaks(result);
		const grants = backend.refreshGrants().filter((r) => r.email === "bob@example.test");
		expect(grants.map((r) => r.status)).toEqual([200]);
		const saved = JSON.parse(readFileSync(join(agentDir, "auth.json"), "utf8"))["openai-codex"];
		expect(saved).toMatchObject({ type: "oauth", accountId: creds.accountId });
		expect(saved.refresh).not.toBe(creds.refresh);
		expect(saved.expires).toBeGreaterThan(Date.now());

		const reuse = await postForm(backend, {
			grant_type: "refresh_token",
			refresh_token: creds.refresh,
			client_id: CLIENT_ID,
		});
		expect(reuse.status).toBe(400);
		expect(await reuse.json()).toMatchObject({ error: "invalid_grant" });
	});

	it("uses the SSE transport when configured (pi 1.x sends a zstd body)", async () => {
		const { agentDir } = prepare("dave@example.test", { transport: "sse" });
		const result = await piPrint(agentDir);
		expect(result.stdout).toContain("Answered by dave@example.test");
		expect(result.code).toBe(0);
		const [record] = backend.responsesFor("dave@example.test");
		expect(record).toMatchObject({
			transport: "sse",
			status: 200,
			contentEncoding: isV1 ? "zstd" : undefined,
		});
		expect((record?.body as { model?: string } | undefined)?.model).toBe(SIM_MODEL);
	});

	it("fails `pi -p` with a usage-limit message on an exhausted account", async () => {
		const { agentDir } = prepare("carol@example.test");
		const result = await piPrint(agentDir, 45_000);
		expect(result.code).not.toBe(0);
		expect(result.stdout).toBe("");
		expectNoLeaks(result);
		const hits = backend.responsesFor("carol@example.test");
		expect(hits.every((r) => r.status === 429)).toBe(true);
		if (isV1) {
			// 1.3 over WebSocket: one request, the error event's message is printed as-is (~0.6 s).
			expect(result.stderr).toContain("Codex error: The usage limit has been reached");
			expect(hits).toHaveLength(1);
		} else {
			// 0.73 retries 429 over SSE three times with 1 s/2 s/4 s back-off: 4 requests, ~9 s total.
			expect(result.stderr).toMatch(
				/You have hit your ChatGPT usage limit \(plus plan\)\. Try again in ~\d+ min\./,
			);
			expect(hits).toHaveLength(4);
		}
	});

	it.runIf(isV1)("falls back to SSE when the WebSocket upgrade is refused with 429", async () => {
		backend.state.options.wsRefuseUpgradeWith429 = true;
		try {
			const { agentDir } = prepare("erin@example.test");
			const result = await piPrint(agentDir);
			expect(result.stdout).toContain("Answered by erin@example.test");
			const hits = backend
				.responsesFor("erin@example.test")
				.map((r) => `${r.transport}:${r.status}`);
			expect(
				backend.state.requests.filter((r) => r.email === "erin@example.test" && r.method === "GET"),
			).toHaveLength(1);
			expect(hits).toEqual(["sse:200"]);
		} finally {
			backend.state.options.wsRefuseUpgradeWith429 = false;
		}
	});

	it("drives pi in RPC mode", async () => {
		const { agentDir } = prepare("erin@example.test");
		const rpc = startRpcPi(line, { agentDir, simUrl: backend.url });
		try {
			const events = await rpc.promptAndWait("say hi");
			expect(events.some((e) => e.type === "agent_end")).toBe(true);
			const last = await rpc.send({ type: "get_last_assistant_text" });
			expect(last).toMatchObject({
				success: true,
				data: { text: "Answered by erin@example.test" },
			});
		} finally {
			await rpc.close();
		}
		expect(findLeakedTokens(JSON.stringify(rpc.events) + rpc.stderr)).toEqual([]);
	});
});
