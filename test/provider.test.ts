// SPEC A2/A9: Multicodex registers itself as pi's `openai-codex` provider with pi-ai's own
// models and base URL mirrored field for field, a placeholder key, and the stream wrapper.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Api, getModels, type Model } from "@mariozechner/pi-ai";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AccountManager } from "../account-manager.ts";
import {
	buildMulticodexProviderConfig,
	getOpenAICodexMirror,
	PLACEHOLDER_API_KEY,
	PROVIDER_ID,
} from "../provider.ts";

const builtin = getModels("openai-codex" as never) as Model<Api>[];

describe("getOpenAICodexMirror", () => {
	it("mirrors every built-in Codex model with every field but the provider", () => {
		expect(builtin.length).toBeGreaterThan(0);
		const mirror = getOpenAICodexMirror();
		expect(mirror.baseUrl).toBe(builtin[0]?.baseUrl);
		expect(mirror.models).toHaveLength(builtin.length);
		builtin.forEach((model, index) => {
			const { provider: _provider, ...fields } = model;
			expect(mirror.models[index]).toEqual(fields);
			expect(mirror.models[index]).not.toHaveProperty("provider");
		});
	});

	it("keeps nested fields such as thinkingLevelMap, as copies", () => {
		const mirror = getOpenAICodexMirror();
		builtin.forEach((model, index) => {
			const mirrored = mirror.models[index] as Record<string, unknown>;
			for (const [key, value] of Object.entries(model)) {
				if (key === "provider" || value === null || typeof value !== "object") continue;
				expect(mirrored[key]).toEqual(value);
				// A copy: changing the mirror never changes pi-ai's own model.
				expect(mirrored[key]).not.toBe(value);
			}
		});
	});
});

describe("buildMulticodexProviderConfig", () => {
	let dir: string;
	beforeEach(() => {
		dir = mkdtempSync(join(tmpdir(), "multicodex-provider-"));
		vi.stubEnv("PI_CODING_AGENT_DIR", dir);
	});
	afterEach(() => {
		vi.unstubAllEnvs();
		rmSync(dir, { recursive: true, force: true });
	});

	it("takes over openai-codex with the mirrored models, a placeholder key and the wrapper", () => {
		const manager = new AccountManager();
		const config = buildMulticodexProviderConfig(manager);
		expect(PROVIDER_ID).toBe("openai-codex");
		expect(config.api).toBe("openai-codex-responses");
		expect(config.apiKey).toBe(PLACEHOLDER_API_KEY);
		expect(config.baseUrl).toBe(getOpenAICodexMirror().baseUrl);
		expect(config.models).toEqual(getOpenAICodexMirror().models);
		expect(typeof config.streamSimple).toBe("function");
		manager.cancelBackgroundWork();
	});
});
