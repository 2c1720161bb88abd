// The Codex usage endpoint (`GET …/wham/usage`), with a timeout.
import { createTimeoutController, normalizeUnknownError } from "./provider-utils.ts";
import { type CodexUsageSnapshot, parseCodexUsageResponse } from "./usage.ts";

export const USAGE_URL = "https://chatgpt.com/backend-api/wham/usage";
const DEFAULT_TIMEOUT_MS = 10_000;

export type UsageFetcher = (
	accessToken: string,
	accountId: string | undefined,
	options?: { signal?: AbortSignal; timeoutMs?: number },
) => Promise<CodexUsageSnapshot>;

export const fetchCodexUsage: UsageFetcher = async (accessToken, accountId, options) => {
	const timeoutMs = options?.timeoutMs ?? DEFAULT_TIMEOUT_MS;
	const { signal, clear } = createTimeoutController(options?.signal, timeoutMs);
	try {
		const headers: Record<string, string> = {
			Authorization: `Bearer ${accessToken}`,
			Accept: "application/json",
		};
		if (accountId) headers["ChatGPT-Account-Id"] = accountId;
		let response: Response;
		try {
			response = await fetch(USAGE_URL, { headers, signal });
		} catch (error) {
			if (signal.aborted && !options?.signal?.aborted) {
				throw new Error(`usage request timed out after ${timeoutMs / 1000} s`);
			}
			throw new Error(`usage request failed: ${normalizeUnknownError(error)}`);
		}
		if (!response.ok) {
			throw new Error(`usage request failed: HTTP ${response.status}`);
		}
		let data: unknown;
		try {
			data = await response.json();
		} catch {
			throw new Error("usage answer is not valid JSON");
		}
		return { ...parseCodexUsageResponse(data), fetchedAt: Date.now() };
	} finally {
		clear();
	}
};
