// SPEC A1: reading pi's own OpenAI Codex login from auth.json (never written by us).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadImportedOpenAICodexAuth, parseImportedOpenAICodexAuth } from "../auth.ts";

function base64Url(value: unknown): string {
	return Buffer.from(JSON.stringify(value)).toString("base64url");
}

/** An obviously fake JWT: real structure, bogus signature. */
function fakeJwt(payload: Record<string, unknown>): string {
	return `${base64Url({ alg: "none", typ: "JWT" })}.${base64Url(payload)}.test-signature`;
}

const EXPIRES = 1_767_225_600_000;

function codexEntry(extra: Record<string, unknown> = {}): Record<string, unknown> {
	return {
		type: "oauth",
		access: fakeJwt({ "https://api.openai.com/profile": { email: "user@example.com" } }),
		refresh: "fake-refresh-token",
		expires: EXPIRES,
		accountId: "acct-1234567890",
		...extra,
	};
}

describe("parseImportedOpenAICodexAuth", () => {
	it("takes the identifier from the access token's profile e-mail", () => {
		const entry = codexEntry();
		const parsed = parseImportedOpenAICodexAuth({ "openai-codex": entry });
		expect(parsed).toEqual({
			identifier: "user@example.com",
			credentials: {
				access: entry.access,
				refresh: "fake-refresh-token",
				expires: EXPIRES,
				accountId: "acct-1234567890",
			},
		});
	});

	it("ignores other providers in auth.json", () => {
		const parsed = parseImportedOpenAICodexAuth({
			anthropic: { type: "oauth", access: "x", refresh: "y", expires: 1 },
			"openai-codex": codexEntry(),
		});
		expect(parsed?.identifier).toBe("user@example.com");
	});

	it("falls back to `OpenAI Codex <first 8 chars of the account id>` without an e-mail", () => {
		const parsed = parseImportedOpenAICodexAuth({
			"openai-codex": codexEntry({ access: fakeJwt({ sub: "user-1" }) }),
		});
		expect(parsed?.identifier).toBe("OpenAI Codex acct-123");
	});

	it("trims the account id", () => {
		const parsed = parseImportedOpenAICodexAuth({
			"openai-codex": codexEntry({ access: "not-a-jwt", accountId: "  abcdefghijkl  " }),
		});
		expect(parsed?.credentials.accountId).toBe("abcdefghijkl");
		expect(parsed?.identifier).toBe("OpenAI Codex abcdefgh");
	});

	it("reads account_id when accountId is absent", () => {
		const parsed = parseImportedOpenAICodexAuth({
			"openai-codex": codexEntry({
				access: "opaque-token",
				accountId: undefined,
				account_id: " zyxwvuts-9876 ",
			}),
		});
		expect(parsed?.credentials.accountId).toBe("zyxwvuts-9876");
		expect(parsed?.identifier).toBe("OpenAI Codex zyxwvuts");
	});

	it("uses `OpenAI Codex default` without e-mail and account id", () => {
		const parsed = parseImportedOpenAICodexAuth({
			"openai-codex": codexEntry({ access: "opaque-token", accountId: undefined }),
		});
		expect(parsed?.identifier).toBe("OpenAI Codex default");
		expect(parsed?.credentials.accountId).toBeUndefined();
	});

	it("falls back when the profile e-mail is empty or not a string", () => {
		for (const email of ["", "   ", 42, null]) {
			const parsed = parseImportedOpenAICodexAuth({
				"openai-codex": codexEntry({
					access: fakeJwt({ "https://api.openai.com/profile": { email } }),
				}),
			});
			expect(parsed?.identifier).toBe("OpenAI Codex acct-123");
		}
	});

	it("falls back when the token payload is not JSON", () => {
		const parsed = parseImportedOpenAICodexAuth({
			"openai-codex": codexEntry({ access: "aGVhZGVy.bm90IGpzb24.test-signature" }),
		});
		expect(parsed?.identifier).toBe("OpenAI Codex acct-123");
	});

	it.each([
		["no openai-codex entry", {}],
		["entry not an object", { "openai-codex": "oauth" }],
		["type api_key", { "openai-codex": codexEntry({ type: "api_key", key: "sk-test" }) }],
		["type missing", { "openai-codex": codexEntry({ type: undefined }) }],
		["empty access", { "openai-codex": codexEntry({ access: "" }) }],
		["access not a string", { "openai-codex": codexEntry({ access: 12 }) }],
		["empty refresh", { "openai-codex": codexEntry({ refresh: "" }) }],
		["missing refresh", { "openai-codex": codexEntry({ refresh: undefined }) }],
		["expires as a string", { "openai-codex": codexEntry({ expires: "1767225600000" }) }],
		["expires missing", { "openai-codex": codexEntry({ expires: undefined }) }],
	])("returns undefined for %s", (_label, auth) => {
		expect(parseImportedOpenAICodexAuth(auth as Record<string, unknown>)).toBeUndefined();
	});
});

describe("loadImportedOpenAICodexAuth", () => {
	let dir: string | undefined;

	afterEach(() => {
		if (dir) rmSync(dir, { recursive: true, force: true });
		dir = undefined;
	});

	it("reads auth.json from the given path, and treats missing or damaged files as none", async () => {
		dir = mkdtempSync(join(tmpdir(), "multicodex-auth-"));
		const path = join(dir, "auth.json");
		expect(await loadImportedOpenAICodexAuth(path)).toBeUndefined();
		writeFileSync(path, "{ broken");
		expect(await loadImportedOpenAICodexAuth(path)).toBeUndefined();
		writeFileSync(path, JSON.stringify({ "openai-codex": codexEntry() }));
		expect((await loadImportedOpenAICodexAuth(path))?.identifier).toBe("user@example.com");
	});
});
