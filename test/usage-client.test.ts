// The Codex usage endpoint client: the request it sends, how it reports HTTP, JSON, timeout and
// abort failures, and the snapshot it returns. `fetch` is stubbed; nothing leaves the process.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { fetchCodexUsage, USAGE_URL } from "../usage-client.ts";

const ACCESS_TOKEN = "test-access-token";
const ACCOUNT_ID = "test-account-id";
const NOW = Date.UTC(2026, 0, 15, 12, 0, 0);
const NOW_SECONDS = NOW / 1000;

let fetchMock: ReturnType<typeof vi.fn<typeof fetch>>;

function jsonResponse(body: unknown, status = 200): Response {
	return new Response(JSON.stringify(body), {
		status,
		headers: { "Content-Type": "application/json" },
	});
}

/** A fetch that never answers but, like the real one, rejects once its signal aborts. */
function hangingFetch(_input: string | URL | Request, init?: RequestInit): Promise<Response> {
	return new Promise<Response>((_resolve, reject) => {
		const signal = init?.signal;
		if (!signal) return;
		const onAbort = () =>
			reject(signal.reason ?? new DOMException("This operation was aborted", "AbortError"));
		if (signal.aborted) onAbort();
		else signal.addEventListener("abort", onAbort, { once: true });
	});
}

/** The request the client made: URL, headers and signal of the (only) fetch call. */
function sentRequest(): { url: string; headers: Headers; signal: AbortSignal | undefined } {
	expect(fetchMock).toHaveBeenCalledTimes(1);
	const [input, init] = fetchMock.mock.calls[0]!;
	return {
		url: String(input),
		headers: new Headers(init?.headers),
		signal: init?.signal ?? undefined,
	};
}

const USAGE_BODY = {
	plan_type: "plus",
	rate_limit: {
		allowed: true,
		limit_reached: false,
		primary_window: {
			used_percent: 42,
			limit_window_seconds: 18_000,
			reset_after_seconds: 3_600,
			reset_at: NOW_SECONDS + 3_600,
		},
		secondary_window: {
			used_percent: 7,
			limit_window_seconds: 604_800,
			reset_after_seconds: 432_000,
			reset_at: NOW_SECONDS + 432_000,
		},
	},
};

beforeEach(() => {
	fetchMock = vi.fn<typeof fetch>();
	vi.stubGlobal("fetch", fetchMock);
});

afterEach(() => {
	vi.unstubAllGlobals();
	vi.useRealTimers();
});

describe("fetchCodexUsage: the request", () => {
	it("asks USAGE_URL with the bearer token, JSON accept and the account id", async () => {
		fetchMock.mockResolvedValue(jsonResponse(USAGE_BODY));
		await fetchCodexUsage(ACCESS_TOKEN, ACCOUNT_ID);
		const { url, headers, signal } = sentRequest();
		expect(url).toBe(USAGE_URL);
		expect(USAGE_URL).toBe("https://chatgpt.com/backend-api/wham/usage");
		expect(headers.get("Authorization")).toBe(`Bearer ${ACCESS_TOKEN}`);
		expect(headers.get("Accept")).toBe("application/json");
		expect(headers.get("ChatGPT-Account-Id")).toBe(ACCOUNT_ID);
		expect(signal).toBeInstanceOf(AbortSignal);
	});

	it("sends no ChatGPT-Account-Id header when no account id is given", async () => {
		fetchMock.mockResolvedValue(jsonResponse(USAGE_BODY));
		await fetchCodexUsage(ACCESS_TOKEN, undefined);
		const { headers } = sentRequest();
		expect(headers.has("ChatGPT-Account-Id")).toBe(false);
		expect(headers.get("Authorization")).toBe(`Bearer ${ACCESS_TOKEN}`);
	});
});

describe("fetchCodexUsage: failures", () => {
	it.each([401, 429, 503])("names the HTTP status of a %i answer", async (status) => {
		fetchMock.mockResolvedValue(jsonResponse({ error: { message: "nope" } }, status));
		const failure = fetchCodexUsage(ACCESS_TOKEN, ACCOUNT_ID);
		await expect(failure).rejects.toThrow(`usage request failed: HTTP ${status}`);
		await expect(failure).rejects.not.toThrow(ACCESS_TOKEN);
	});

	it("reports an answer that is not JSON", async () => {
		fetchMock.mockResolvedValue(
			new Response("<html>Just a moment…</html>", {
				status: 200,
				headers: { "Content-Type": "text/html" },
			}),
		);
		await expect(fetchCodexUsage(ACCESS_TOKEN, ACCOUNT_ID)).rejects.toThrow(
			/^usage answer is not valid JSON$/,
		);
	});

	it("gives up on a server that never answers, saying how long it waited", async () => {
		fetchMock.mockImplementation(hangingFetch);
		const started = Date.now();
		await expect(fetchCodexUsage(ACCESS_TOKEN, ACCOUNT_ID, { timeoutMs: 50 })).rejects.toThrow(
			"usage request timed out after 0.05 s",
		);
		expect(Date.now() - started).toBeLessThan(5_000);
		expect(sentRequest().signal?.aborted).toBe(true);
	});

	it("reports a caller abort as a failure, not as a timeout", async () => {
		fetchMock.mockImplementation(hangingFetch);
		const caller = new AbortController();
		const pending = fetchCodexUsage(ACCESS_TOKEN, ACCOUNT_ID, {
			signal: caller.signal,
			timeoutMs: 60_000,
		});
		caller.abort(new Error("session ended"));
		const error = await pending.then(
			() => undefined,
			(reason: unknown) => reason,
		);
		expect(error).toBeInstanceOf(Error);
		expect((error as Error).message).toMatch(/^usage request failed: .*session ended/);
		expect((error as Error).message).not.toMatch(/timed out/);
		expect(sentRequest().signal?.aborted).toBe(true);
	});

	it("reports a network failure with its cause", async () => {
		fetchMock.mockRejectedValue(
			new TypeError("fetch failed", { cause: new Error("connect ECONNREFUSED 127.0.0.1:443") }),
		);
		await expect(fetchCodexUsage(ACCESS_TOKEN, ACCOUNT_ID)).rejects.toThrow(
			"usage request failed: fetch failed: connect ECONNREFUSED 127.0.0.1:443",
		);
	});
});

describe("fetchCodexUsage: the answer", () => {
	it("parses the 5-hour and weekly windows and stamps fetchedAt", async () => {
		vi.useFakeTimers({ toFake: ["Date"] });
		vi.setSystemTime(NOW);
		fetchMock.mockResolvedValue(jsonResponse(USAGE_BODY));
		const snapshot = await fetchCodexUsage(ACCESS_TOKEN, ACCOUNT_ID);
		expect(snapshot).toEqual({
			primary: { usedPercent: 42, resetAt: NOW + 3_600_000 },
			secondary: { usedPercent: 7, resetAt: NOW + 432_000_000 },
			fetchedAt: NOW,
		});
	});

	it("places the windows by length when the weekly one comes first", async () => {
		const { primary_window, secondary_window } = USAGE_BODY.rate_limit;
		fetchMock.mockResolvedValue(
			jsonResponse({
				rate_limit: { primary_window: secondary_window, secondary_window: primary_window },
			}),
		);
		const snapshot = await fetchCodexUsage(ACCESS_TOKEN, ACCOUNT_ID);
		expect(snapshot.primary?.usedPercent).toBe(42);
		expect(snapshot.secondary?.usedPercent).toBe(7);
		expect(snapshot.fetchedAt).toEqual(expect.any(Number));
	});
});
