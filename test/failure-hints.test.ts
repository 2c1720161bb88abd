// SPEC B11: failures say what failed and what to do. A request whose accounts all failed to
// get a token names them and why; a failing usage fetch says what to do, once per streak.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
	type Api,
	type AssistantMessageEvent,
	type AssistantMessageEventStream,
	createAssistantMessageEventStream,
	type Model,
} from "@mariozechner/pi-ai";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AccountManager, type AccountManagerOptions } from "../account-manager.ts";
import type { ImportedOpenAICodexAuth } from "../auth.ts";
import { createAssistantMessage } from "../provider-utils.ts";
import { type Account, AccountStore, serializeStorage } from "../storage.ts";
import { ACCOUNT_HEADER, createStreamWrapper } from "../stream-wrapper.ts";
import type { CodexUsageSnapshot } from "../usage.ts";
import { fakeAccount as account, fakeToken as token } from "./support/fake-accounts.ts";

// pi-adapter.ts cannot be loaded under vitest with pi 0.73 installed (a pi 1.x-only import);
// every OAuth call is injected here anyway.
vi.mock("../pi-adapter.ts", () => ({
	CODEX_API: "openai-codex-responses",
	CODEX_PROVIDER: "openai-codex",
	closeCodexSessionSockets: () => undefined,
	refreshCodexToken: async () => {
		throw new Error("pi's OAuth refresh is not used in unit tests");
	},
}));

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const MODEL: Model<Api> = {
	id: "gpt-5.1-codex",
	name: "GPT-5.1 Codex",
	api: "openai-codex-responses",
	provider: "openai-codex",
	baseUrl: "https://chatgpt.com/backend-api",
	reasoning: true,
	input: ["text"],
	cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 },
	contextWindow: 272_000,
	maxTokens: 128_000,
};

let dir: string;
let file: string;
let warnings: string[];
let calls: string[];

function writeStorage(accounts: Account[]): void {
	writeFileSync(file, serializeStorage({ version: 1, accounts }), { mode: 0o600 });
}

function createManager(options: AccountManagerOptions = {}): AccountManager {
	const manager = new AccountManager({
		store: new AccountStore({ path: () => file }),
		fetchUsage: async () => {
			throw new Error("usage request failed: HTTP 503");
		},
		refreshToken: async () => {
			throw new Error("unexpected refresh");
		},
		loadPiAuth: async () => undefined,
		...options,
	});
	manager.setWarningHandler((warning) => warnings.push(warning));
	return manager;
}

/** Answers every request with a short text; records which account it was sent for. */
const innerProvider = {
	streamSimple(model: Model<Api>): AssistantMessageEventStream {
		const email = model.headers?.[ACCOUNT_HEADER] ?? "?";
		calls.push(email);
		const stream = createAssistantMessageEventStream();
		const message = createAssistantMessage(model, {
			content: [{ type: "text", text: `Answered by ${email}` }],
		});
		queueMicrotask(() => {
			stream.push({ type: "done", reason: "stop", message });
			stream.end();
		});
		return stream;
	},
};

async function requestErrors(manager: AccountManager): Promise<string[]> {
	const wrapper = createStreamWrapper(manager, innerProvider);
	const events: AssistantMessageEvent[] = [];
	for await (const event of wrapper(MODEL, { messages: [] }, { apiKey: "placeholder" })) {
		events.push(event);
	}
	return events.flatMap((event) =>
		event.type === "error" ? [event.error.errorMessage ?? ""] : [],
	);
}

function expectNoTokens(texts: string[], emails: string[]): void {
	for (const text of texts) {
		for (const email of emails) {
			expect(text).not.toContain(token(email, "access"));
			expect(text).not.toContain(token(email, "refresh"));
		}
	}
}

beforeEach(() => {
	dir = mkdtempSync(join(tmpdir(), "multicodex-hints-"));
	file = join(dir, "codex-accounts.json");
	vi.stubEnv("PI_CODING_AGENT_DIR", dir);
	warnings = [];
	calls = [];
});

afterEach(() => {
	vi.unstubAllEnvs();
	rmSync(dir, { recursive: true, force: true });
});

describe("a request whose accounts all failed to get a token", () => {
	it("names the account, the temporary cause and 'try again', not 'add another account'", async () => {
		writeStorage([account("a@x.com", { expiresAt: Date.now() - MINUTE })]);
		const manager = createManager({
			refreshToken: async (refresh) => {
				throw new Error(`fetch failed: ECONNRESET while sending ${refresh}`);
			},
		});

		const errors = await requestErrors(manager);

		expect(calls).toEqual([]);
		expect(errors).toHaveLength(1);
		const text = errors[0] as string;
		expect(text).toMatch(/^No available Multicodex accounts/);
		expect(text).toContain("a@x.com");
		expect(text).toContain("ECONNRESET");
		expect(text).toContain("try again in a moment");
		expect(text).not.toContain("every account failed");
		expect(text).not.toContain("Add another account");
		// Temporary: the account is not flagged, the next request can use it.
		expect(manager.getAccount("a@x.com")?.needsReauth).toBeUndefined();
		// The skip warning passes the error's own advice on, once, without a second repair hint.
		const skipped = warnings.filter((w) => w.includes("skipped a@x.com during rotation"));
		expect(skipped).toHaveLength(1);
		expect(skipped[0]).toContain("try again in a moment");
		expect(skipped[0]).not.toContain("..");
		expect(skipped[0]).not.toContain("to repair it");
		expectNoTokens([...errors, ...warnings], ["a@x.com"]);
	});

	it("names each failed account beside the exhausted ones", async () => {
		writeStorage([
			account("a@x.com", { quotaExhaustedUntil: Date.now() + 2 * HOUR }),
			account("b@x.com", { expiresAt: Date.now() - MINUTE }),
		]);
		const manager = createManager({
			refreshToken: async () => {
				throw new Error("the OpenAI login server did not answer: 503 (503)");
			},
		});

		const errors = await requestErrors(manager);

		expect(errors).toHaveLength(1);
		const text = errors[0] as string;
		expect(text).toContain("1 of 2 accounts is out of quota; the first back is a@x.com, in 2h");
		expect(text).toContain("token refresh for b@x.com failed");
		expect(text).toContain("try again in a moment");
		expectNoTokens(errors, ["a@x.com", "b@x.com"]);
	});

	it("says pi's login expired, with /login openai-codex, when it was the only account", async () => {
		const stale: ImportedOpenAICodexAuth = {
			identifier: "pi@x.com",
			credentials: {
				access: token("pi@x.com", "access"),
				refresh: token("pi@x.com", "refresh"),
				expires: Date.now() - MINUTE,
				accountId: "acct-pi",
			},
		};
		const manager = createManager({ loadPiAuth: async () => stale });
		await manager.loadPiAuth();

		const errors = await requestErrors(manager);

		expect(errors).toHaveLength(1);
		expect(errors[0]).toContain("pi@x.com");
		expect(errors[0]).toContain("/login openai-codex");
		expect(errors[0]).not.toContain("none is set up");
		expectNoTokens(errors, ["pi@x.com"]);
	});
});

describe("a failing usage fetch", () => {
	const snapshot: CodexUsageSnapshot = {
		primary: { usedPercent: 10, resetAt: Date.now() + HOUR },
		fetchedAt: Date.now(),
	};

	function managerWithUsage(answers: (() => CodexUsageSnapshot)[]): AccountManager {
		let next = 0;
		return createManager({
			fetchUsage: async () => {
				const answer = answers[next++];
				if (!answer) throw new Error("no more answers scripted");
				return answer();
			},
		});
	}

	const fail = (reason: string) => () => {
		throw new Error(reason);
	};

	async function refreshTimes(manager: AccountManager, email: string, times: number) {
		for (let i = 0; i < times; i++) {
			await manager.refreshUsageForAccount(manager.getAccount(email) as Account, { force: true });
		}
	}

	it("refused login (401/403): says to log in again with the repair command", async () => {
		writeStorage([account("a@x.com")]);
		const manager = managerWithUsage([fail("usage request failed: HTTP 401")]);
		await refreshTimes(manager, "a@x.com", 1);
		expect(warnings).toEqual([
			"Multicodex: failed to fetch usage for a@x.com: usage request failed: HTTP 401. " +
				"Its login was refused: run /multicodex reauth a@x.com to log in again.",
		]);
	});

	it("refused pi login: points to /login openai-codex", async () => {
		const piLogin: ImportedOpenAICodexAuth = {
			identifier: "pi@x.com",
			credentials: {
				access: token("pi@x.com", "access"),
				refresh: token("pi@x.com", "refresh"),
				expires: Date.now() + DAY,
			},
		};
		const manager = createManager({
			loadPiAuth: async () => piLogin,
			fetchUsage: async () => {
				throw new Error("usage request failed: HTTP 403");
			},
		});
		await manager.loadPiAuth();
		await refreshTimes(manager, "pi@x.com", 1);
		expect(warnings).toHaveLength(1);
		expect(warnings[0]).toContain("run /login openai-codex to log in again");
	});

	it("timeout or server error: says the footer keeps its numbers and tries again", async () => {
		writeStorage([account("a@x.com"), account("b@x.com")]);
		const manager = managerWithUsage([
			fail("usage request timed out after 10 s"),
			fail("usage request failed: HTTP 502"),
		]);
		await refreshTimes(manager, "a@x.com", 1);
		await refreshTimes(manager, "b@x.com", 1);
		expect(warnings).toEqual([
			"Multicodex: failed to fetch usage for a@x.com: usage request timed out after 10 s. " +
				"The footer keeps the last numbers it has and tries again later.",
			"Multicodex: failed to fetch usage for b@x.com: usage request failed: HTTP 502. " +
				"The footer keeps the last numbers it has and tries again later.",
		]);
	});

	it("warns once per failure streak; a fetch that works ends the streak", async () => {
		writeStorage([account("a@x.com"), account("b@x.com")]);
		const down = fail("usage request failed: HTTP 503");
		const manager = managerWithUsage([down, down, down, () => snapshot, down, down]);

		// The footer's refresh every minute while the endpoint is down: one warning.
		await refreshTimes(manager, "a@x.com", 3);
		expect(warnings).toHaveLength(1);
		// It works again, then fails again: a new streak, warned once more.
		await refreshTimes(manager, "a@x.com", 3);
		expect(warnings).toHaveLength(2);
		expect(warnings.every((w) => w.includes("a@x.com") && w.includes("HTTP 503"))).toBe(true);
	});

	it("counts streaks per account", async () => {
		writeStorage([account("a@x.com"), account("b@x.com")]);
		const down = fail("usage request failed: HTTP 503");
		const manager = managerWithUsage([down, down, down, down]);
		await refreshTimes(manager, "a@x.com", 2);
		await refreshTimes(manager, "b@x.com", 2);
		expect(warnings.map((w) => w.match(/for (\S+):/)?.[1])).toEqual(["a@x.com", "b@x.com"]);
	});
});
