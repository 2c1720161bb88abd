// SPEC B11 at the unit level: no token survives into a message, whatever shape it is in (a
// known secret, a JWT, a bearer header, a JSON or form field, escaped JSON in an error body);
// failed refreshes say what to do and flag the account only when the login is really gone;
// pi's own failed login is explained and scrubbed; an abort does not cut a refresh short.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AccountManager } from "../account-manager.ts";
import type { CodexCredentials } from "../pi-adapter.ts";
import { explainFailedAnswer, PI_LOGIN_HINT } from "../pi-login-guard.ts";
import {
	abortable,
	normalizeUnknownError,
	redactSecrets,
	rememberSecrets,
} from "../provider-utils.ts";
import { AccountStore, serializeStorage } from "../storage.ts";
import { createPrng } from "./support/prng.ts";

// pi-adapter.ts loads pi's OAuth module; every refresh here is injected.
vi.mock("../pi-adapter.ts", () => ({
	CODEX_API: "openai-codex-responses",
	CODEX_PROVIDER: "openai-codex",
	closeCodexSessionSockets: () => {},
	refreshCodexToken: async () => {
		throw new Error("pi's OAuth refresh is not used in unit tests");
	},
}));

function fakeJwt(seed: number): string {
	const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
	return `${b64({ alg: "none", n: seed })}.${b64({ sub: `user-${seed}`, exp: 1_900_000_000 })}.sig${seed}`;
}

describe("redactSecrets", () => {
	it("removes tokens in every shape they reach a message in (1,000 seeded cases)", () => {
		const random = createPrng(0xb11);
		const shapes: ((token: string) => string)[] = [
			(t) => `failed: ${t}`,
			(t) => `{"access_token":"${t}","token_type":"Bearer"}`,
			(t) => `{"refresh_token": "${t}"}`,
			(t) => `refresh failed (400): {\\"refresh\\":\\"${t}\\"}`,
			(t) => `grant_type=refresh_token&refresh_token=${t}&client_id=x`,
			(t) => `Authorization: Bearer ${t}`,
			(t) => `accessToken=${t}; path=/`,
			(t) => `<${t}>`,
			(t) => `${t}${t}`,
		];
		for (let i = 0; i < 1000; i++) {
			const jwt = random.chance(0.5);
			const token = jwt
				? fakeJwt(i)
				: `rt-${i}-${random.int(0, 1e9).toString(36)}${"x".repeat(random.int(0, 30))}`;
			const message = `${random.pick(["", "Multicodex: ", "OpenAI Codex token refresh failed: "])}${random.pick(shapes)(token)} (case ${i})`;
			// An opaque token is only known when it is named; a JWT is recognised by its shape.
			const redacted = redactSecrets(message, jwt ? [] : [token]);
			expect(redacted, message).not.toContain(token);
			expect(redacted).toContain(`(case ${i})`);
		}
	});

	it("removes every token the process has read, without being told each time", () => {
		const opaque = "opaque-refresh-token-never-named-again";
		rememberSecrets(opaque, undefined, "short");
		expect(redactSecrets(`the server said: ${opaque} is used`)).toBe(
			"the server said: [redacted] is used",
		);
		expect(redactSecrets("short words stay short")).toBe("short words stay short");
	});

	it("leaves ordinary messages alone", () => {
		for (const text of [
			"Multicodex: a@x.com is out of quota until 12:00",
			"usage request failed: 503 Service Unavailable",
			"Run /multicodex reauth a@x.com to log in again.",
		]) {
			expect(redactSecrets(text)).toBe(text);
		}
	});
});

describe("normalizeUnknownError", () => {
	it("says what really failed, through the causes", () => {
		const error = new TypeError("fetch failed", {
			cause: new Error("connect ECONNREFUSED 127.0.0.1:443"),
		});
		expect(normalizeUnknownError(error)).toBe("fetch failed: connect ECONNREFUSED 127.0.0.1:443");
		expect(normalizeUnknownError({ code: 7 })).toBe('{"code":7}');
		expect(normalizeUnknownError("plain")).toBe("plain");
	});
});

describe("abortable", () => {
	it("gives up waiting at once on abort, while the work goes on", async () => {
		let finish: (value: string) => void = () => {};
		const work = new Promise<string>((resolve) => {
			finish = resolve;
		});
		const controller = new AbortController();
		const waiting = abortable(work, controller.signal);
		controller.abort();
		await expect(waiting).rejects.toThrow("Request was aborted");
		finish("done");
		await expect(work).resolves.toBe("done");
	});
});

describe("pi's own login failing (pi 1.x)", () => {
	const failed = (errorMessage: string, provider = "openai-codex") => ({
		role: "assistant",
		content: [],
		provider,
		stopReason: "error",
		errorMessage,
	});

	it("adds what to do and removes any token pi's error quoted", () => {
		const jwt = fakeJwt(1);
		const explained = explainFailedAnswer(
			failed(
				`OAuth refresh failed for openai-codex: OpenAI Codex token refresh response missing fields: {"access_token":"${jwt}"}`,
			),
			(text) => redactSecrets(text),
		);
		expect(explained?.piLoginFailed).toBe(true);
		expect(explained?.message.errorMessage).toContain("OAuth refresh failed for openai-codex");
		expect(explained?.message.errorMessage).toContain(PI_LOGIN_HINT);
		expect(explained?.message.errorMessage).not.toContain(jwt);
		expect(PI_LOGIN_HINT).toMatch(/\/login openai-codex.*\/logout openai-codex/);
	});

	it("leaves other providers and clean errors as they are", () => {
		expect(
			explainFailedAnswer(failed("OAuth refresh failed for openai-codex", "anthropic"), (t) => t),
		).toBeUndefined();
		expect(explainFailedAnswer(failed("Codex error: server error"), (t) => t)).toBeUndefined();
		expect(explainFailedAnswer({ role: "user" }, (t) => t)).toBeUndefined();
	});
});

describe("token refresh failures", () => {
	let dir: string;
	let file: string;
	const T0 = 1_767_225_600_000;

	beforeEach(() => {
		dir = mkdtempSync(join(tmpdir(), "multicodex-secrets-"));
		file = join(dir, "codex-accounts.json");
		writeFileSync(
			file,
			serializeStorage({
				version: 1,
				accounts: [
					{
						email: "a@x.com",
						accessToken: "access-token-of-a-xxxxxxxx",
						refreshToken: "refresh-token-of-a-yyyyyyyy",
						expiresAt: T0, // expired: the next use refreshes
					},
				],
			}),
		);
	});

	afterEach(() => {
		rmSync(dir, { recursive: true, force: true });
	});

	function manager(
		refreshToken: (token: string, signal?: AbortSignal) => Promise<CodexCredentials>,
		refreshTimeoutMs?: number,
	) {
		const warnings: string[] = [];
		const m = new AccountManager({
			store: new AccountStore({ path: () => file }),
			refreshToken,
			fetchUsage: async () => {
				throw new Error("no usage in this test");
			},
			loadPiAuth: async () => undefined,
			now: () => T0 + 1000,
			refreshTimeoutMs,
		});
		m.setWarningHandler((message) => warnings.push(message));
		return { m, warnings };
	}

	const stored = () => JSON.parse(readFileSync(file, "utf8")).accounts[0];

	it("a refused refresh token flags the account, says how to repair it, shows no token", async () => {
		const { m } = manager(async (token) => {
			throw new Error(
				`OpenAI Codex token refresh failed (400): {"error":"invalid_grant","refresh_token":"${token}"}`,
			);
		});
		const account = m.getAccount("a@x.com");
		const error = await m.ensureValidToken(account as never).catch((e: Error) => e);
		expect(String(error)).toContain("Run /multicodex reauth a@x.com");
		expect(String(error)).not.toContain("refresh-token-of-a-yyyyyyyy");
		expect(stored().needsReauth).toBe(true);
	});

	it.each([
		["a server error", "OpenAI Codex token refresh failed (503): upstream unavailable"],
		["a network error", "OpenAI Codex token refresh error: fetch failed"],
	])(
		"%s is temporary: the account is not flagged, and the message says to try again",
		async (_label, text) => {
			const { m } = manager(async () => {
				throw new Error(text);
			});
			const error = await m
				.ensureValidToken(m.getAccount("a@x.com") as never)
				.catch((e: Error) => e);
			expect(String(error)).toMatch(/looks temporary.*try again/);
			expect(stored().needsReauth).toBeUndefined();
		},
	);

	it("a refresh that does not answer ends in bounded time, and its late answer is still saved", async () => {
		let answer: (creds: CodexCredentials) => void = () => {};
		const { m } = manager(
			() =>
				new Promise<CodexCredentials>((resolve) => {
					answer = resolve;
				}),
			200,
		);
		const started = Date.now();
		const error = await m.ensureValidToken(m.getAccount("a@x.com") as never).catch((e: Error) => e);
		expect(Date.now() - started).toBeLessThan(2000);
		expect(String(error)).toMatch(/did not answer within 0.2 s.*looks temporary/);
		expect(stored().needsReauth).toBeUndefined();
		answer({
			access: "late-access-token-zzzz",
			refresh: "late-refresh-token-zzzz",
			expires: T0 + 3_600_000,
		});
		await vi.waitFor(() => expect(stored().refreshToken).toBe("late-refresh-token-zzzz"));
	});

	it("an abort ends the wait at once; the refresh goes on and is saved", async () => {
		let answer: (creds: CodexCredentials) => void = () => {};
		const { m } = manager(
			() =>
				new Promise<CodexCredentials>((resolve) => {
					answer = resolve;
				}),
		);
		const controller = new AbortController();
		const waiting = m.ensureValidToken(m.getAccount("a@x.com") as never, controller.signal);
		await new Promise((r) => setTimeout(r, 50));
		controller.abort();
		await expect(waiting).rejects.toThrow("Request was aborted");
		answer({
			access: "new-access-token-wwww",
			refresh: "new-refresh-token-wwww",
			expires: T0 + 3_600_000,
		});
		await vi.waitFor(() => expect(stored().refreshToken).toBe("new-refresh-token-wwww"));
		// The next caller gets the saved token without another refresh.
		await expect(m.ensureValidToken(m.getAccount("a@x.com") as never)).resolves.toBe(
			"new-access-token-wwww",
		);
	});
});
