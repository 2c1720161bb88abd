// SPEC A5/B3/B11/B13: the request path with a real AccountManager (temp dir) and a scripted
// fake inner provider standing in for pi-ai's openai-codex-responses stream.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
	type Api,
	type AssistantMessage,
	type AssistantMessageEvent,
	type AssistantMessageEventStream,
	type Context,
	createAssistantMessageEventStream,
	type Model,
	type SimpleStreamOptions,
} from "@mariozechner/pi-ai";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AccountManager } from "../account-manager.ts";
import type { CodexCredentials } from "../pi-adapter.ts";
import { createAssistantMessage } from "../provider-utils.ts";
import { isQuotaErrorMessage } from "../quota.ts";
import { type Account, AccountStore, type StorageData, serializeStorage } from "../storage.ts";
import { ACCOUNT_HEADER, createStreamWrapper } from "../stream-wrapper.ts";
import { type CodexUsageSnapshot, formatResetAt } from "../usage.ts";
import { fakeAccount as account, fakeToken as token } from "./support/fake-accounts.ts";

const adapter = vi.hoisted(() => ({ closedSessions: [] as string[] }));

// pi-adapter.ts cannot be loaded under vitest with pi 0.73 installed (its import of the pi
// 1.x-only `@mariozechner/pi-ai/providers/all` fails vite's import analysis), so the adapter is
// replaced; the socket release is recorded to check B13.
vi.mock("../pi-adapter.ts", () => ({
	CODEX_API: "openai-codex-responses",
	CODEX_PROVIDER: "openai-codex",
	closeCodexSessionSockets: (sessionId: string) => {
		adapter.closedSessions.push(sessionId);
	},
	refreshCodexToken: async () => {
		throw new Error("pi's OAuth refresh is not used in unit tests");
	},
}));

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const CALLER_PROVIDER = "openai-codex";
const INNER_PROVIDER = "inner-openai-codex";
const QUOTA_MESSAGE =
	"You have hit your ChatGPT usage limit (usage_limit_reached). Try again later.";

const CALLER_MODEL: Model<Api> = {
	id: "gpt-5.1-codex",
	name: "GPT-5.1 Codex",
	api: "openai-codex-responses",
	provider: CALLER_PROVIDER,
	baseUrl: "https://chatgpt.com/backend-api",
	reasoning: true,
	input: ["text"],
	cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 },
	contextWindow: 272_000,
	maxTokens: 128_000,
};

const CONTEXT: Context = { messages: [{ role: "user", content: "hello", timestamp: 0 }] };

// ---------------------------------------------------------------------------
// Fake inner provider
// ---------------------------------------------------------------------------

type Script = (
	options: SimpleStreamOptions,
	emit: (event: AssistantMessageEvent) => void,
) => Promise<void>;

interface InnerCall {
	model: Model<Api>;
	context: Context;
	options: SimpleStreamOptions;
}

function message(extra: Partial<AssistantMessage> = {}): AssistantMessage {
	const inner = { api: CALLER_MODEL.api, provider: INNER_PROVIDER, id: CALLER_MODEL.id };
	return createAssistantMessage(inner, { timestamp: 0, ...extra });
}

const ev = {
	start: (): AssistantMessageEvent => ({ type: "start", partial: message() }),
	textStart: (): AssistantMessageEvent => ({
		type: "text_start",
		contentIndex: 0,
		partial: message(),
	}),
	textDelta: (delta: string): AssistantMessageEvent => ({
		type: "text_delta",
		contentIndex: 0,
		delta,
		partial: message(),
	}),
	textEnd: (content: string): AssistantMessageEvent => ({
		type: "text_end",
		contentIndex: 0,
		content,
		partial: message(),
	}),
	done: (text: string): AssistantMessageEvent => ({
		type: "done",
		reason: "stop",
		message: message({ content: [{ type: "text", text }] }),
	}),
	error: (errorMessage: string): AssistantMessageEvent => ({
		type: "error",
		reason: "error",
		error: message({ stopReason: "error", errorMessage }),
	}),
};

const scripts = {
	answer:
		(text: string): Script =>
		async (_options, emit) => {
			emit(ev.start());
			emit(ev.textStart());
			emit(ev.textDelta(text));
			emit(ev.textEnd(text));
			emit(ev.done(text));
		},
	error:
		(errorMessage: string): Script =>
		async (_options, emit) => {
			emit(ev.error(errorMessage));
		},
	startThenError:
		(errorMessage: string): Script =>
		async (_options, emit) => {
			emit(ev.start());
			await new Promise((resolve) => setTimeout(resolve, 1));
			emit(ev.error(errorMessage));
		},
	textThenError:
		(errorMessage: string): Script =>
		async (_options, emit) => {
			emit(ev.start());
			emit(ev.textStart());
			emit(ev.textDelta("partial answer"));
			emit(ev.error(errorMessage));
		},
	/** What pi-ai does on an SSE 429: onResponse first; whatever it throws ends the stream. */
	response429:
		(headers: Record<string, string>, errorMessage: string): Script =>
		async (options, emit) => {
			try {
				await options.onResponse?.({ status: 429, headers }, CALLER_MODEL);
			} catch {
				// pi-ai turns this into an error event; the text is up to the transport.
			}
			emit(ev.error(errorMessage));
		},
};

let scriptByEmail: Map<string, Script>;
let calls: InnerCall[];

const innerProvider = {
	streamSimple(
		model: Model<Api>,
		context: Context,
		options?: SimpleStreamOptions,
	): AssistantMessageEventStream {
		const stream = createAssistantMessageEventStream();
		const call = { model, context, options: options ?? {} };
		calls.push(call);
		const email = model.headers?.[ACCOUNT_HEADER] ?? options?.headers?.[ACCOUNT_HEADER] ?? "";
		const script = scriptByEmail.get(email) ?? scripts.answer(`Answered by ${email}`);
		void (async () => {
			await Promise.resolve();
			await script(call.options, (event) => stream.push(event));
			stream.end();
		})();
		return stream;
	},
};

// ---------------------------------------------------------------------------
// Accounts
// ---------------------------------------------------------------------------

let dir: string;
let file: string;
let warnings: string[];
let usageByToken: Map<string, CodexUsageSnapshot>;
let refreshToken: (refreshToken: string) => Promise<CodexCredentials>;

const EMAILS = ["a@x.com", "b@x.com", "c@x.com"];

function allTokens(): string[] {
	return EMAILS.flatMap((email) => [token(email, "access"), token(email, "refresh")]);
}

/** a: 10 % used, 5 h reset in 3 h; b: 20 %, in 2 h; c: 30 %, in 4 h. Selection order a, b, c. */
function setUsage(): void {
	const now = Date.now();
	const entries: Array<[string, number, number]> = [
		["a@x.com", 10, 3 * HOUR],
		["b@x.com", 20, 2 * HOUR],
		["c@x.com", 30, 4 * HOUR],
	];
	for (const [email, used, resetIn] of entries) {
		usageByToken.set(token(email, "access"), {
			primary: { usedPercent: used, resetAt: now + resetIn },
			secondary: { usedPercent: used, resetAt: now + 5 * DAY },
			fetchedAt: now,
		});
	}
}

function writeStorage(accounts: Account[], activeEmail?: string): void {
	const data: StorageData = { version: 1, accounts, activeEmail };
	writeFileSync(file, serializeStorage(data), { mode: 0o600 });
}

function storedAccount(email: string): Account | undefined {
	const data = JSON.parse(readFileSync(file, "utf8")) as StorageData;
	return data.accounts.find((a) => a.email === email);
}

/** Cooldowns reach the file a moment after they take effect (the next turn of the event loop). */
function afterSave(): Promise<void> {
	return new Promise((resolve) => setImmediate(resolve));
}

function createManager(): AccountManager {
	const manager = new AccountManager({
		store: new AccountStore({ path: () => file }),
		fetchUsage: async (accessToken) => {
			const known = usageByToken.get(accessToken);
			if (!known) throw new Error("HTTP 503");
			return known;
		},
		refreshToken: (refresh) => refreshToken(refresh),
		loadPiAuth: async () => undefined,
	});
	manager.setWarningHandler((warning) => warnings.push(warning));
	return manager;
}

async function collect(stream: AssistantMessageEventStream): Promise<AssistantMessageEvent[]> {
	const events: AssistantMessageEvent[] = [];
	for await (const event of stream) events.push(event);
	return events;
}

async function request(
	manager: AccountManager,
	options: SimpleStreamOptions = { apiKey: "multicodex-placeholder" },
): Promise<AssistantMessageEvent[]> {
	const wrapper = createStreamWrapper(manager, innerProvider);
	return collect(wrapper(CALLER_MODEL, CONTEXT, options));
}

function callEmails(): string[] {
	return calls.map((call) => call.model.headers?.[ACCOUNT_HEADER] ?? "?");
}

function textOf(events: AssistantMessageEvent[]): string {
	return events.map((event) => (event.type === "text_delta" ? event.delta : "")).join("");
}

function errorsOf(events: AssistantMessageEvent[]): string[] {
	return events.flatMap((event) =>
		event.type === "error" ? [event.error.errorMessage ?? ""] : [],
	);
}

function expectNoTokens(texts: string[]): void {
	for (const text of texts) {
		for (const secret of allTokens()) expect(text).not.toContain(secret);
	}
}

beforeEach(() => {
	dir = mkdtempSync(join(tmpdir(), "multicodex-stream-"));
	file = join(dir, "codex-accounts.json");
	vi.stubEnv("PI_CODING_AGENT_DIR", dir);
	warnings = [];
	calls = [];
	scriptByEmail = new Map();
	usageByToken = new Map();
	adapter.closedSessions.length = 0;
	refreshToken = async () => {
		throw new Error("unexpected refresh");
	};
	writeStorage(EMAILS.map((email) => account(email)));
	setUsage();
});

afterEach(async () => {
	// Let the background usage refresh after a quota hit finish before the folder goes.
	await new Promise((resolve) => setTimeout(resolve, 20));
	vi.unstubAllEnvs();
	rmSync(dir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------

describe("createStreamWrapper", () => {
	it("calls the inner provider with the account header, its token and the codex model", async () => {
		const controller = new AbortController();
		const events = await request(createManager(), {
			apiKey: "multicodex-placeholder",
			signal: controller.signal,
		});

		expect(callEmails()).toEqual(["a@x.com"]);
		const call = calls[0]!;
		expect(call.options.apiKey).toBe(token("a@x.com", "access"));
		expect(call.model.provider).toBe("openai-codex");
		expect(call.model.api).toBe("openai-codex-responses");
		expect(call.model.id).toBe(CALLER_MODEL.id);
		expect({ ...call.model.headers, ...call.options.headers }[ACCOUNT_HEADER]).toBe("a@x.com");
		expect(call.context).toBe(CONTEXT);
		expect(call.options.signal).toBeInstanceOf(AbortSignal);
		expect(textOf(events)).toBe("Answered by a@x.com");
		expect(events.map((e) => e.type)).toEqual([
			"start",
			"text_start",
			"text_delta",
			"text_end",
			"done",
		]);
	});

	it("labels every event with the caller's provider", async () => {
		scriptByEmail.set("a@x.com", scripts.error(QUOTA_MESSAGE));
		const events = await request(createManager());
		expect(events.length).toBeGreaterThan(0);
		for (const event of events) {
			const carried =
				event.type === "done"
					? event.message
					: event.type === "error"
						? event.error
						: event.partial;
			expect(carried.provider).toBe(CALLER_PROVIDER);
		}
	});

	it("rotates on a quota error before output and answers from the next account", async () => {
		scriptByEmail.set("a@x.com", scripts.error(QUOTA_MESSAGE));
		const manager = createManager();

		const events = await request(manager);

		expect(callEmails()).toEqual(["a@x.com", "b@x.com"]);
		expect(calls[1]!.options.apiKey).toBe(token("b@x.com", "access"));
		expect(errorsOf(events)).toEqual([]);
		expect(textOf(events)).toBe("Answered by b@x.com");
		expect(events.at(-1)?.type).toBe("done");
		// The cooldown took effect at once; the file gets it a moment later, off the request path.
		expect(manager.getAccount("a@x.com")?.quotaExhaustedUntil ?? 0).toBeGreaterThan(Date.now());
		await afterSave();
		expect(storedAccount("a@x.com")?.quotaExhaustedUntil ?? 0).toBeGreaterThan(Date.now());
		expect(storedAccount("b@x.com")?.quotaExhaustedUntil).toBeUndefined();
		// The inner request of the abandoned try is aborted.
		expect(calls[0]!.options.signal?.aborted).toBe(true);
	});

	it("rotates after a held `start` and forwards `start` only once", async () => {
		scriptByEmail.set("a@x.com", scripts.startThenError(QUOTA_MESSAGE));

		const events = await request(createManager());

		expect(callEmails()).toEqual(["a@x.com", "b@x.com"]);
		expect(events.filter((e) => e.type === "start")).toHaveLength(1);
		expect(events.map((e) => e.type)).toEqual([
			"start",
			"text_start",
			"text_delta",
			"text_end",
			"done",
		]);
		expect(textOf(events)).toBe("Answered by b@x.com");
	});

	it("passes an error after output on as is, without switching", async () => {
		scriptByEmail.set("a@x.com", scripts.textThenError(QUOTA_MESSAGE));

		const events = await request(createManager());

		expect(callEmails()).toEqual(["a@x.com"]);
		expect(events.map((e) => e.type)).toEqual(["start", "text_start", "text_delta", "error"]);
		expect(errorsOf(events)).toEqual([QUOTA_MESSAGE]);
	});

	it("passes a non-quota error on as is", async () => {
		const serverError = "Codex error: internal server error (500)";
		expect(isQuotaErrorMessage(serverError)).toBe(false);
		scriptByEmail.set("a@x.com", scripts.error(serverError));

		const events = await request(createManager());

		expect(callEmails()).toEqual(["a@x.com"]);
		expect(errorsOf(events)).toEqual([serverError]);
		expect(storedAccount("a@x.com")?.quotaExhaustedUntil).toBeUndefined();
	});

	it("rotates on a 429 seen through onResponse even when the error text is not quota-like", async () => {
		const resetAtSeconds = Math.floor((Date.now() + 90 * MINUTE) / 1000);
		const closedText = "Codex error: stream closed before response.completed";
		expect(isQuotaErrorMessage(closedText)).toBe(false);
		scriptByEmail.set(
			"a@x.com",
			scripts.response429(
				{
					"x-codex-primary-used-percent": "100",
					"x-codex-primary-window-minutes": "300",
					"x-codex-primary-reset-at": String(resetAtSeconds),
					"x-codex-secondary-used-percent": "40",
					"x-codex-secondary-window-minutes": "10080",
				},
				closedText,
			),
		);
		const manager = createManager();

		const events = await request(manager);

		expect(callEmails()).toEqual(["a@x.com", "b@x.com"]);
		expect(errorsOf(events)).toEqual([]);
		expect(textOf(events)).toBe("Answered by b@x.com");
		await afterSave();
		expect(storedAccount("a@x.com")?.quotaExhaustedUntil).toBe(resetAtSeconds * 1000);
		expect(manager.getCachedUsage("a@x.com")?.primary?.usedPercent).toBe(100);
	});

	it("ends with one error naming the earliest reset when every account is exhausted", async () => {
		for (const email of EMAILS) scriptByEmail.set(email, scripts.error(QUOTA_MESSAGE));
		const manager = createManager();

		const events = await request(manager);

		expect(callEmails()).toEqual(["a@x.com", "b@x.com", "c@x.com"]);
		const errors = errorsOf(events);
		expect(errors).toHaveLength(1);
		expect(events).toHaveLength(1);
		const text = errors[0]!;
		// An expected condition, not a crash: no `Multicodex failed:` prefix (A5).
		expect(text.startsWith("No available Multicodex accounts: every account is out of quota")).toBe(
			true,
		);
		// b's 5 h window resets first (in 2 h).
		const earliest = manager.getEarliestCooldownEnd();
		expect(earliest?.email).toBe("b@x.com");
		expect(text).toContain("b@x.com");
		expect(text).toContain(formatResetAt(earliest?.until, Date.now()));
		expect(text).toContain("in 2h");
		expectNoTokens(errors);
		expectNoTokens(warnings);
	});

	it("flags accounts whose plan has no Codex, names them apart from the exhausted ones, and never tries them again", async () => {
		const notIncluded = "Codex error: 429 usage_not_included: Codex is not included in your plan";
		scriptByEmail.set("a@x.com", scripts.error(notIncluded));
		scriptByEmail.set("b@x.com", scripts.error(QUOTA_MESSAGE));
		scriptByEmail.set("c@x.com", scripts.error(notIncluded));
		const manager = createManager();

		const events = await request(manager);

		expect(callEmails()).toEqual(["a@x.com", "b@x.com", "c@x.com"]);
		const errors = errorsOf(events);
		expect(errors).toHaveLength(1);
		const at = new Date(manager.getEarliestCooldownEnd()?.until ?? 0)
			.toISOString()
			.replace(/\.\d+Z$/, "Z");
		expect(errors[0]).toBe(
			"No available Multicodex accounts: 1 of 3 accounts is out of quota; " +
				`the first back is b@x.com, in 2h (${at}); 2 cannot use Codex (plan without Codex): ` +
				"a@x.com, c@x.com. Add another account with /multicodex use <identifier>.",
		);
		expect(warnings.filter((w) => w.includes("cannot use Codex"))).toHaveLength(2);
		await afterSave();
		expect(storedAccount("a@x.com")).toMatchObject({ codexNotIncluded: true });
		expect(storedAccount("a@x.com")?.quotaExhaustedUntil).toBeUndefined();
		expect(storedAccount("b@x.com")?.codexNotIncluded).toBeUndefined();
		expect(storedAccount("c@x.com")).toMatchObject({ codexNotIncluded: true });

		// Once b is back (its cooldown gone from the file), only b is tried: the flagged accounts
		// are not retried.
		writeStorage([
			account("a@x.com", { codexNotIncluded: true }),
			account("b@x.com"),
			account("c@x.com", { codexNotIncluded: true }),
		]);
		manager.reloadFromDisk();
		scriptByEmail.delete("b@x.com");
		calls = [];
		const next = await request(manager);
		expect(callEmails()).toEqual(["b@x.com"]);
		expect(textOf(next)).toBe("Answered by b@x.com");
	});

	it("agrees the verb with the number of exhausted accounts", async () => {
		scriptByEmail.set("a@x.com", scripts.error(QUOTA_MESSAGE));
		scriptByEmail.set("b@x.com", scripts.error(QUOTA_MESSAGE));
		scriptByEmail.set(
			"c@x.com",
			scripts.error("Codex error: 429 usage_not_included: Codex is not included in your plan"),
		);

		const errors = errorsOf(await request(createManager()));

		expect(errors).toHaveLength(1);
		expect(errors[0]).toMatch(
			/^No available Multicodex accounts: 2 of 3 accounts are out of quota; the first back is b@x\.com/,
		);
		expect(errors[0]).toContain("; 1 cannot use Codex (plan without Codex): c@x.com.");
	});

	it("agrees the verb with one account needing a login", async () => {
		writeStorage([
			account("a@x.com", { needsReauth: true }),
			account("b@x.com", { codexNotIncluded: true }),
		]);

		const errors = errorsOf(await request(createManager()));

		expect(errors).toEqual([
			"No available Multicodex accounts: 1 needs re-authentication: a@x.com (/multicodex reauth a@x.com); " +
				"1 cannot use Codex (plan without Codex): b@x.com. Add another account with /multicodex use <identifier>.",
		]);
	});

	it("keeps the `Multicodex failed:` prefix for an unexpected failure", async () => {
		const broken = {
			streamSimple: (): AssistantMessageEventStream => {
				throw new Error("inner provider broke");
			},
		};
		const wrapper = createStreamWrapper(createManager(), broken);

		const events = await collect(wrapper(CALLER_MODEL, CONTEXT, { apiKey: "placeholder" }));

		expect(errorsOf(events)).toEqual(["Multicodex failed: inner provider broke"]);
	});

	it("says so when every account's plan has no Codex", async () => {
		writeStorage(EMAILS.map((email) => account(email, { codexNotIncluded: true })));
		const manager = createManager();

		const events = await request(manager);

		expect(calls).toEqual([]);
		expect(errorsOf(events)).toEqual([
			"No available Multicodex accounts: 3 cannot use Codex (plan without " +
				"Codex): a@x.com, b@x.com, c@x.com. Add another account with /multicodex use <identifier>.",
		]);
	});

	it("cools down an account that hits its quota on the last try, and says the tries are used up", async () => {
		scriptByEmail.set("a@x.com", scripts.error(QUOTA_MESSAGE));
		const manager = createManager();
		const wrapper = createStreamWrapper(manager, innerProvider, { maxRetries: 0 });

		const events = await collect(wrapper(CALLER_MODEL, CONTEXT, { apiKey: "placeholder" }));

		expect(callEmails()).toEqual(["a@x.com"]);
		const errors = errorsOf(events);
		expect(errors).toHaveLength(1);
		expect(errors[0]).toMatch(/^a@x\.com hit its usage limit and this request's 1 try is used up/);
		await afterSave();
		expect(storedAccount("a@x.com")?.quotaExhaustedUntil ?? 0).toBeGreaterThan(Date.now());
		// The next request goes to another account at once.
		const next = await collect(wrapper(CALLER_MODEL, CONTEXT, { apiKey: "placeholder" }));
		expect(textOf(next)).toBe("Answered by b@x.com");
	});

	it("skips pi-ai's back-off on a 429 even on the last try", async () => {
		let onResponseThrew = false;
		scriptByEmail.set("a@x.com", async (options, emit) => {
			try {
				await options.onResponse?.({ status: 429, headers: {} }, CALLER_MODEL);
			} catch {
				onResponseThrew = true;
			}
			emit(ev.error("Codex error: 429"));
		});
		const manager = createManager();
		const wrapper = createStreamWrapper(manager, innerProvider, { maxRetries: 0 });

		const events = await collect(wrapper(CALLER_MODEL, CONTEXT, { apiKey: "placeholder" }));

		expect(onResponseThrew).toBe(true);
		expect(errorsOf(events)[0]).toMatch(/a@x\.com hit a rate limit/);
		expect(manager.getAccount("a@x.com")?.quotaExhaustedUntil ?? 0).toBeGreaterThan(Date.now());
	});

	it("skips an account whose token refresh fails, warns once without tokens, and uses the next", async () => {
		writeStorage([
			account("a@x.com", { expiresAt: Date.now() - MINUTE }),
			account("b@x.com"),
			account("c@x.com"),
		]);
		refreshToken = async (refresh) => {
			throw new Error(`invalid_grant: refresh_token ${refresh} has already been used`);
		};
		const manager = createManager();

		const events = await request(manager);
		await request(manager);

		expect(textOf(events)).toBe("Answered by b@x.com");
		expect(callEmails()).toEqual(["b@x.com", "b@x.com"]);
		expect(storedAccount("a@x.com")?.needsReauth).toBe(true);
		const skipWarnings = warnings.filter((w) => w.includes("a@x.com"));
		expect(skipWarnings).toHaveLength(1);
		expect(skipWarnings[0]).toContain("/multicodex reauth a@x.com");
		expectNoTokens(warnings);
	});

	it("never shows a token when every account's token fails", async () => {
		writeStorage(EMAILS.map((email) => account(email, { expiresAt: Date.now() - MINUTE })));
		refreshToken = async (refresh) => {
			throw new Error(`refresh failed for ${refresh}`);
		};
		const manager = createManager();

		const events = await request(manager);

		expect(calls).toHaveLength(0);
		const errors = errorsOf(events);
		expect(errors).toHaveLength(1);
		expect(errors[0]).toMatch(/^No available Multicodex accounts: /);
		expectNoTokens(errors);
		expectNoTokens(warnings);
	});

	// SPEC B11: no token ever appears in an error message. Errors the wrapper passes on (A5:
	// non-quota errors, errors after output) are pushed unredacted, unlike its own failures.
	it("removes a token the inner provider put in an error it passes on", async () => {
		scriptByEmail.set(
			"a@x.com",
			scripts.error(`Codex error: 401 invalid token ${token("a@x.com", "access")}`),
		);
		const events = await request(createManager());
		const errors = errorsOf(events);
		expect(errors).toHaveLength(1);
		expect(errors[0]).toContain("Codex error: 401 invalid token");
		expectNoTokens(errors);
	});

	it("uses the manual pin first and drops it when the pinned account hits its quota", async () => {
		const manager = createManager();
		manager.setManualAccount("c@x.com");
		scriptByEmail.set("c@x.com", scripts.error(QUOTA_MESSAGE));

		const events = await request(manager);

		expect(callEmails()).toEqual(["c@x.com", "a@x.com"]);
		expect(textOf(events)).toBe("Answered by a@x.com");
		expect(manager.hasManualAccount()).toBe(false);
	});

	it("closes pi's cached session socket when a session moves to another account", async () => {
		scriptByEmail.set("a@x.com", scripts.error(QUOTA_MESSAGE));
		const events = await request(createManager(), {
			apiKey: "multicodex-placeholder",
			sessionId: "session-1",
		});
		expect(textOf(events)).toBe("Answered by b@x.com");
		expect(adapter.closedSessions).toEqual(["session-1"]);
	});
});
