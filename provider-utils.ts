// Small helpers 2.3.1 took from the unpublished `pi-provider-utils` package: agent paths,
// JSON object files, abort helpers, error normalisation, provider mirroring and event
// provider rewriting. Paths are resolved on every call so tests (and pi) can move the
// agent dir at run time.
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import type { Api, AssistantMessage, AssistantMessageEvent, Model } from "@mariozechner/pi-ai";

/** The environment variable pi itself honours for its agent dir (see pi's `getAgentDir`). */
export const AGENT_DIR_ENV = "PI_CODING_AGENT_DIR";

function expandHome(path: string): string {
	if (path === "~") return homedir();
	if (path.startsWith("~/")) return join(homedir(), path.slice(2));
	return path;
}

export function getAgentDir(): string {
	const fromEnv = process.env[AGENT_DIR_ENV];
	return fromEnv ? expandHome(fromEnv) : join(homedir(), ".pi", "agent");
}

export function getAgentPath(fileName: string): string {
	return join(getAgentDir(), fileName);
}

export function getAgentAuthPath(): string {
	return getAgentPath("auth.json");
}

export function getAgentSettingsPath(): string {
	return getAgentPath("settings.json");
}

export type JsonObject = Record<string, unknown>;

export function isJsonObject(value: unknown): value is JsonObject {
	return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Result of reading a JSON object file: missing is not an error, damage is. */
export type JsonFileRead =
	| { kind: "missing" }
	| { kind: "ok"; value: JsonObject; text: string }
	| { kind: "damaged"; text: string; reason: string };

export function parseJsonObjectText(text: string): JsonFileRead {
	let parsed: unknown;
	try {
		parsed = JSON.parse(text);
	} catch (error) {
		return { kind: "damaged", text, reason: `not valid JSON (${normalizeUnknownError(error)})` };
	}
	if (!isJsonObject(parsed)) {
		return { kind: "damaged", text, reason: "the top level is not a JSON object" };
	}
	return { kind: "ok", value: parsed, text };
}

function isMissingFileError(error: unknown): boolean {
	return isJsonObject(error) && error.code === "ENOENT";
}

export function readJsonObjectFileSync(path: string): JsonFileRead {
	try {
		return parseJsonObjectText(readFileSync(path, "utf8"));
	} catch (error) {
		if (isMissingFileError(error)) return { kind: "missing" };
		throw error;
	}
}

export async function readJsonObjectFile(path: string): Promise<JsonFileRead> {
	try {
		return parseJsonObjectText(await readFile(path, "utf8"));
	} catch (error) {
		if (isMissingFileError(error)) return { kind: "missing" };
		throw error;
	}
}

// ---------------------------------------------------------------------------
// Abort helpers
// ---------------------------------------------------------------------------

/** An abort controller that also aborts when `parent` does; `dispose` detaches it. */
export function createLinkedAbortController(parent?: AbortSignal): {
	controller: AbortController;
	dispose: () => void;
} {
	const controller = new AbortController();
	if (!parent) return { controller, dispose: () => {} };
	if (parent.aborted) {
		controller.abort(parent.reason);
		return { controller, dispose: () => {} };
	}
	const onAbort = () => controller.abort(parent.reason);
	parent.addEventListener("abort", onAbort, { once: true });
	return { controller, dispose: () => parent.removeEventListener("abort", onAbort) };
}

/** An abort signal that fires after `timeoutMs` or when `parent` aborts. */
export function createTimeoutController(
	parent: AbortSignal | undefined,
	timeoutMs: number,
): { signal: AbortSignal; clear: () => void } {
	const { controller, dispose } = createLinkedAbortController(parent);
	const timer = setTimeout(
		() => controller.abort(new Error(`timed out after ${timeoutMs} ms`)),
		timeoutMs,
	);
	timer.unref?.();
	return {
		signal: controller.signal,
		clear: () => {
			clearTimeout(timer);
			dispose();
		},
	};
}

/**
 * Waits for `promise`, but gives up as soon as `signal` aborts (the work itself goes on; use
 * this where the work must not be cut short, e.g. a refresh that already spent its token).
 */
export function abortable<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
	if (!signal) return promise;
	if (signal.aborted) return Promise.reject(new Error("Request was aborted"));
	return new Promise<T>((resolve, reject) => {
		const onAbort = () => reject(new Error("Request was aborted"));
		signal.addEventListener("abort", onAbort, { once: true });
		promise.then(
			(value) => {
				signal.removeEventListener("abort", onAbort);
				resolve(value);
			},
			(error: unknown) => {
				signal.removeEventListener("abort", onAbort);
				reject(error);
			},
		);
	});
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/**
 * The message of anything thrown, with its causes (`fetch failed: connect ECONNREFUSED …`),
 * so an error says what really failed.
 */
export function normalizeUnknownError(error: unknown): string {
	let message = describeOne(error);
	let cause = error instanceof Error ? error.cause : undefined;
	for (let depth = 0; cause !== undefined && depth < 3; depth++) {
		const text = describeOne(cause);
		if (text && !message.includes(text)) message = `${message}: ${text}`;
		cause = cause instanceof Error ? cause.cause : undefined;
	}
	return message;
}

function describeOne(error: unknown): string {
	if (error instanceof Error) return error.message || error.name;
	if (typeof error === "string") return error;
	try {
		return JSON.stringify(error) ?? String(error);
	} catch {
		return String(error);
	}
}

const JWT_LIKE = /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g;
const BEARER = /(Bearer\s+)[^\s"',\\]+/gi;
/** `"refresh_token": "…"`, `access=…`, also inside escaped JSON (`\"access_token\":\"…\"`). */
const TOKEN_FIELDS =
	/(\\?"?\b(?:access_token|refresh_token|id_token|accessToken|refreshToken|idToken|access|refresh)\\?"?\s*[:=]\s*\\?"?)(?!\[redacted\])[^"\\\s,}&]+/g;

/** Every secret this process has read (tokens of stored accounts, pi's login), newest last. */
const knownSecrets = new Set<string>();
const MAX_KNOWN_SECRETS = 2000;

/**
 * Remembers secrets so that every later message is scrubbed of them, wherever it is built.
 * Called where tokens enter the process: reading the accounts file, pi's auth.json, a refresh.
 */
export function rememberSecrets(...secrets: Array<string | undefined>): void {
	for (const secret of secrets) {
		if (!secret || secret.length < 8) continue;
		knownSecrets.delete(secret);
		knownSecrets.add(secret);
	}
	while (knownSecrets.size > MAX_KNOWN_SECRETS) {
		const oldest = knownSecrets.values().next().value;
		if (oldest === undefined) break;
		knownSecrets.delete(oldest);
	}
}

/**
 * Removes anything that looks like a credential from a message before it is shown or logged:
 * every secret remembered by this process, `secrets` (exact strings known to be secret),
 * JWT-shaped strings, bearer values and token fields of JSON or form bodies.
 */
export function redactSecrets(message: string, secrets: Iterable<string> = []): string {
	let out = message;
	const all = [...secrets, ...knownSecrets].filter((s) => s && s.length >= 8);
	// Longest first, so a token that contains another is removed whole.
	all.sort((a, b) => b.length - a.length);
	for (const secret of all) {
		if (out.includes(secret)) out = out.split(secret).join("[redacted]");
	}
	return out
		.replace(JWT_LIKE, "[redacted]")
		.replace(BEARER, "$1[redacted]")
		.replace(TOKEN_FIELDS, "$1[redacted]");
}

// ---------------------------------------------------------------------------
// Provider mirroring and event rewriting
// ---------------------------------------------------------------------------

/** An assistant message of `model` with nothing counted; `fields` sets the rest. */
export function createAssistantMessage(
	model: Pick<Model<Api>, "api" | "provider" | "id">,
	fields: Partial<AssistantMessage> = {},
): AssistantMessage {
	return {
		role: "assistant",
		content: [],
		api: model.api,
		provider: model.provider,
		model: model.id,
		usage: {
			input: 0,
			output: 0,
			cacheRead: 0,
			cacheWrite: 0,
			totalTokens: 0,
			cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, total: 0 },
		},
		stopReason: "stop",
		timestamp: Date.now(),
		...fields,
	};
}

export function createErrorAssistantMessage(model: Model<Api>, message: string): AssistantMessage {
	return createAssistantMessage(model, { stopReason: "error", errorMessage: message });
}

function withProvider(message: AssistantMessage, provider: string): AssistantMessage {
	return message.provider === provider ? message : { ...message, provider };
}

/** Returns the event with every carried assistant message labelled with `provider`. */
export function rewriteProviderOnEvent(
	event: AssistantMessageEvent,
	provider: string,
): AssistantMessageEvent {
	const record = event as unknown as Record<string, unknown>;
	let changed: Record<string, unknown> | undefined;
	for (const key of ["partial", "message", "error"] as const) {
		const value = record[key] as AssistantMessage | undefined;
		if (value && typeof value === "object" && value.provider !== provider) {
			changed ??= { ...record };
			changed[key] = withProvider(value, provider);
		}
	}
	return (changed ?? record) as unknown as AssistantMessageEvent;
}
