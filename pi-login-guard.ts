// Failed Codex answers as the user sees them. pi 1.x resolves its own `openai-codex` login
// (auth.json) before a request reaches our provider, and when that login's refresh fails pi
// ends the request with its own error: Multicodex never got to choose an account. This module
// recognises that error and adds what to do. It also scrubs tokens from every failed
// `openai-codex` answer (pi's OAuth errors may quote a response body).
import type { AssistantMessage } from "@mariozechner/pi-ai";
import { CODEX_PROVIDER } from "./pi-adapter.ts";
import { isJsonObject } from "./provider-utils.ts";

/** pi 1.x's messages when its own login could not be refreshed or saved (pi-ai `resolve.js`). */
const PI_LOGIN_FAILURE =
	/(?:OAuth refresh failed|OAuth refresh returned a token that expires too soon|Credential store modify failed) for openai-codex/i;

export const PI_LOGIN_HINT =
	"Multicodex: pi could not refresh its own OpenAI Codex login (from /login openai-codex), and pi " +
	"stops the request before Multicodex can choose an account. Run /login openai-codex to log in " +
	"again, or /logout openai-codex to let Multicodex use its own accounts.";

export function isPiLoginRefreshFailure(errorMessage: string): boolean {
	return PI_LOGIN_FAILURE.test(errorMessage);
}

function isFailedCodexAnswer(message: unknown): message is AssistantMessage {
	return (
		isJsonObject(message) &&
		message.role === "assistant" &&
		message.provider === CODEX_PROVIDER &&
		message.stopReason === "error" &&
		typeof message.errorMessage === "string"
	);
}

export interface ExplainedFailure {
	/** The message to keep in its place (redacted, with the hint when it applies). */
	message: AssistantMessage;
	/** pi's own login failed: the user must log in again or log out. */
	piLoginFailed: boolean;
}

/**
 * For a finished assistant message: undefined when it is not a failed `openai-codex` answer or
 * needs no change; otherwise its replacement.
 */
export function explainFailedAnswer(
	message: unknown,
	redact: (text: string) => string,
): ExplainedFailure | undefined {
	if (!isFailedCodexAnswer(message)) return undefined;
	const original = message.errorMessage ?? "";
	const piLoginFailed = isPiLoginRefreshFailure(original);
	let errorMessage = redact(original);
	if (piLoginFailed && !errorMessage.includes(PI_LOGIN_HINT)) {
		errorMessage = `${errorMessage}\n${PI_LOGIN_HINT}`;
	}
	if (errorMessage === original) return undefined;
	return { message: { ...message, errorMessage }, piLoginFailed };
}

/**
 * The `message_end` handler: replaces a failed answer's text (pi shows and stores the
 * replacement) and, with a UI, also says what to do as a warning.
 */
export function createPiLoginGuard(deps: {
	redact: (text: string) => string;
	warn: (message: string) => void;
}) {
	return (
		event: { message?: unknown },
		ctx?: { hasUI?: boolean },
	): { message: AssistantMessage } | undefined => {
		const explained = explainFailedAnswer(event.message, deps.redact);
		if (!explained) return undefined;
		if (explained.piLoginFailed && ctx?.hasUI) deps.warn(PI_LOGIN_HINT);
		return { message: explained.message };
	};
}
