// Registration of Multicodex as pi's `openai-codex` provider, mirroring pi-ai's built-in
// provider (models and base URL) and routing every request through the stream wrapper.
import type { Api, Model } from "@mariozechner/pi-ai";
import type { AccountManager } from "./account-manager.ts";
import { CODEX_API, getBuiltinCodexModels, getCodexApiProvider } from "./pi-adapter.ts";
import { createStreamWrapper } from "./stream-wrapper.ts";

export const PROVIDER_ID = "openai-codex";
export const DEFAULT_CODEX_BASE_URL = "https://chatgpt.com/backend-api";
/**
 * pi 1.x reads a provider `apiKey` literally unless it is written `$VAR`, and pi 0.73 reads it
 * as an environment variable name first. The real token is chosen per request, so this only
 * has to be a literal that is no variable name in use.
 */
export const PLACEHOLDER_API_KEY = "multicodex-managed";

/** A mirrored model: every field of pi-ai's model (thinkingLevelMap included). */
export type ProviderModelDef = Omit<Model<Api>, "provider" | "api" | "baseUrl"> & {
	api?: Api;
	baseUrl?: string;
};

export function getOpenAICodexMirror(): { baseUrl: string; models: ProviderModelDef[] } {
	const models = getBuiltinCodexModels();
	const baseUrl = models[0]?.baseUrl || DEFAULT_CODEX_BASE_URL;
	return {
		baseUrl,
		models: models.map(({ provider: _provider, ...rest }) => structuredClone(rest)),
	};
}

export function buildMulticodexProviderConfig(accountManager: AccountManager) {
	const baseProvider = getCodexApiProvider();
	if (!baseProvider) {
		throw new Error(
			"Multicodex needs pi-ai's OpenAI Codex provider (api openai-codex-responses), and this pi " +
				"has none. Update pi (npm i -g @earendil-works/pi-coding-agent) and start it again.",
		);
	}
	const mirror = getOpenAICodexMirror();
	return {
		baseUrl: mirror.baseUrl,
		apiKey: PLACEHOLDER_API_KEY,
		api: CODEX_API as Api,
		streamSimple: createStreamWrapper(accountManager, baseProvider),
		models: mirror.models,
	};
}
