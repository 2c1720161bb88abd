// The one place that knows how pi 0.73 (`@mariozechner/*`) and pi 1.x (`@earendil-works/*`)
// differ. pi 1.x resolves the `@mariozechner` names to its own modules, so these imports work
// on both lines; where the two lines differ we detect the capability at run time.
import {
	type Api,
	cleanupSessionResources,
	getApiProvider,
	getModels,
	type Model,
	type OAuthCredentials,
} from "@mariozechner/pi-ai";

export const CODEX_API = "openai-codex-responses";
export const CODEX_PROVIDER = "openai-codex";

export type CodexCredentials = OAuthCredentials & { accountId?: string };

export type CodexApiProvider = NonNullable<ReturnType<typeof getApiProvider>>;

/** pi-ai's built-in Codex stream implementation, or undefined on a pi without one. */
export function getCodexApiProvider(): CodexApiProvider | undefined {
	return getApiProvider(CODEX_API as Api);
}

/** pi-ai's built-in `openai-codex` models (the list differs between the lines). */
export function getBuiltinCodexModels(): Model<Api>[] {
	try {
		return getModels(CODEX_PROVIDER as never) as Model<Api>[];
	} catch {
		return [];
	}
}

/** Closes pi-ai's cached per-session resources (the Codex WebSocket of that session). */
export function closeCodexSessionSockets(sessionId: string): void {
	cleanupSessionResources(sessionId);
}

export interface CodexLoginCallbacks {
	onAuth: (info: { url: string; instructions?: string }) => void;
	/**
	 * Asks for the authorization code or the redirect URL. On both lines it is asked at once,
	 * alongside the browser callback; `signal` fires when the callback won, to dismiss the question.
	 */
	onPrompt: (message: string, placeholder?: string, signal?: AbortSignal) => Promise<string>;
	onProgress?: (message: string) => void;
	signal?: AbortSignal;
}

const MANUAL_CODE_MESSAGE =
	"Complete login in your browser, or paste the authorization code / redirect URL here:";
const MANUAL_CODE_PLACEHOLDER = "http://localhost:1455/auth/callback?code=...";

interface CodexOAuthImpl {
	refresh(refreshToken: string, signal?: AbortSignal): Promise<CodexCredentials>;
	login(callbacks: CodexLoginCallbacks): Promise<CodexCredentials>;
}

interface LegacyOAuthModule {
	refreshOpenAICodexToken?: (refreshToken: string) => Promise<CodexCredentials>;
	loginOpenAICodex?: (options: {
		onAuth: (info: { url: string; instructions?: string }) => void;
		onPrompt: (prompt: { message: string; placeholder?: string }) => Promise<string>;
		onProgress?: (message: string) => void;
		onManualCodeInput?: () => Promise<string>;
	}) => Promise<CodexCredentials>;
}

interface BuiltinOAuth {
	login(
		interaction: {
			signal: AbortSignal;
			prompt(prompt: {
				type: string;
				message: string;
				placeholder?: string;
				signal?: AbortSignal;
			}): Promise<string>;
			notify(event: { type: string; url?: string; instructions?: string; message?: string }): void;
		},
		options?: unknown,
	): Promise<CodexCredentials>;
	refresh(credential: Record<string, unknown>, signal: AbortSignal): Promise<CodexCredentials>;
}

interface ProvidersModule {
	builtinProviders?: () => Array<{ id: string; auth?: { oauth?: BuiltinOAuth } }>;
}

/** pi 0.73: `@mariozechner/pi-ai/oauth` exports the Codex flow functions. */
async function loadLegacyOAuth(): Promise<CodexOAuthImpl | undefined> {
	let mod: LegacyOAuthModule;
	try {
		mod = (await import("@mariozechner/pi-ai/oauth")) as LegacyOAuthModule;
	} catch {
		return undefined;
	}
	const { refreshOpenAICodexToken, loginOpenAICodex } = mod;
	if (typeof refreshOpenAICodexToken !== "function" || typeof loginOpenAICodex !== "function") {
		return undefined;
	}
	return {
		refresh: (refreshToken) => refreshOpenAICodexToken(refreshToken),
		login: async (callbacks) => {
			// Like 1.x: the pasted code races the browser callback (needed when the browser cannot
			// reach localhost:1455, e.g. over SSH); the question is dismissed when the callback wins.
			const manual = new AbortController();
			try {
				return await loginOpenAICodex({
					onAuth: callbacks.onAuth,
					onPrompt: (prompt) => callbacks.onPrompt(prompt.message, prompt.placeholder),
					onProgress: callbacks.onProgress,
					onManualCodeInput: () =>
						callbacks.onPrompt(MANUAL_CODE_MESSAGE, MANUAL_CODE_PLACEHOLDER, manual.signal),
				});
			} finally {
				manual.abort();
			}
		},
	};
}

const BROWSER_LOGIN_METHOD_LABEL = /browser/i;

/** A variable, so bundlers and test runners do not resolve a subpath pi 0.73 lacks. */
const PROVIDERS_MODULE = "@mariozechner/pi-ai/providers/all";

/** pi 1.x: the same protocol through `builtinProviders()` → `openai-codex` → `auth.oauth`. */
async function loadBuiltinProviderOAuth(): Promise<CodexOAuthImpl | undefined> {
	let mod: ProvidersModule;
	try {
		mod = (await import(PROVIDERS_MODULE)) as ProvidersModule;
	} catch {
		return undefined;
	}
	const oauth = mod.builtinProviders?.().find((p) => p.id === CODEX_PROVIDER)?.auth?.oauth;
	if (!oauth || typeof oauth.refresh !== "function" || typeof oauth.login !== "function") {
		return undefined;
	}
	return {
		refresh: (refreshToken, signal) =>
			oauth.refresh(
				{ type: "oauth", refresh: refreshToken, access: "", expires: 0 },
				signal ?? new AbortController().signal,
			),
		login: (callbacks) =>
			oauth.login({
				signal: callbacks.signal ?? new AbortController().signal,
				prompt: async (prompt) => {
					const options = (prompt as { options?: { id: string; label: string }[] }).options;
					if (prompt.type === "select" && options) {
						// The browser flow with a pasted-URL fallback is what /multicodex offers.
						const browser = options.find((o) => BROWSER_LOGIN_METHOD_LABEL.test(o.label));
						return (browser ?? options[0])?.id ?? "";
					}
					return callbacks.onPrompt(prompt.message, prompt.placeholder, prompt.signal);
				},
				notify: (event) => {
					if (event.type === "auth_url" && event.url) {
						callbacks.onAuth({ url: event.url, instructions: event.instructions });
					} else if (event.message) {
						callbacks.onProgress?.(event.message);
					}
				},
			}),
	};
}

let oauthImpl: Promise<CodexOAuthImpl | undefined> | undefined;

async function getCodexOAuth(): Promise<CodexOAuthImpl> {
	oauthImpl ??= loadLegacyOAuth().then((legacy) => legacy ?? loadBuiltinProviderOAuth());
	const impl = await oauthImpl;
	if (!impl) {
		throw new Error(
			"This pi has no OpenAI Codex OAuth support (neither @mariozechner/pi-ai/oauth nor " +
				"builtinProviders() offers it). Update pi to 0.73 or newer.",
		);
	}
	return impl;
}

/** Exchanges a refresh token with pi's own OpenAI Codex OAuth implementation. */
export async function refreshCodexToken(
	refreshToken: string,
	signal?: AbortSignal,
): Promise<CodexCredentials> {
	return (await getCodexOAuth()).refresh(refreshToken, signal);
}

/** Runs pi's own OpenAI Codex OAuth login (browser + local callback, or a pasted URL/code). */
export async function loginCodex(callbacks: CodexLoginCallbacks): Promise<CodexCredentials> {
	return (await getCodexOAuth()).login(callbacks);
}
