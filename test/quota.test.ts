// Recognising quota answers (2.3.1's message rule) and classifying them by kind (B3).
import { describe, expect, it } from "vitest";
import { classifyQuotaEvent, classifyQuotaResponse, isQuotaErrorMessage } from "../quota.ts";

const NOW = 1_767_225_600_000;
const RESETS_AT = 1_767_240_000;

describe("isQuotaErrorMessage", () => {
	it.each([
		"429 Too Many Requests",
		"Codex error: HTTP 429",
		"status=429;",
		"You exceeded your current quota",
		"You have hit your ChatGPT usage limit",
		"Rate limit reached for requests",
		"ratelimit exceeded",
		"rate-limit exceeded",
		"rate_limit_exceeded",
		"Too many requests, slow down",
		"Daily limit reached",
		"USAGE LIMIT",
		"QuOtA exceeded",
		"TOO MANY REQUESTS",
	])("recognises %j", (message) => {
		expect(isQuotaErrorMessage(message)).toBe(true);
	});

	it.each([
		"error 4290 occurred",
		"request id 14291",
		"1429 tokens",
		"Internal server error",
		"Connection reset by peer",
		"context length exceeded",
		"invalid api key",
		"",
	])("does not recognise %j", (message) => {
		expect(isQuotaErrorMessage(message)).toBe(false);
	});
});

describe("classifyQuotaResponse", () => {
	it("reads usage_limit_reached with resets_at (seconds → ms)", () => {
		const signal = classifyQuotaResponse(
			429,
			{},
			{
				error: {
					type: "usage_limit_reached",
					code: "usage_limit_reached",
					message: "The usage limit has been reached",
					resets_at: RESETS_AT,
					resets_in_seconds: 1234,
				},
			},
			NOW,
		);
		expect(signal?.kind).toBe("usage_limit_reached");
		expect(signal?.resetAt).toBe(RESETS_AT * 1000);
	});

	it("reads usage_limit_reached with only resets_in_seconds", () => {
		const signal = classifyQuotaResponse(
			429,
			{},
			{ error: { type: "usage_limit_reached", resets_in_seconds: 600 } },
			NOW,
		);
		expect(signal?.kind).toBe("usage_limit_reached");
		expect(signal?.resetAt).toBe(NOW + 600_000);
	});

	it("reads usage_not_included (also on a non-429 status)", () => {
		const body = {
			error: {
				type: "usage_not_included",
				code: "usage_not_included",
				message: "Codex is not included in your plan",
			},
		};
		expect(classifyQuotaResponse(429, {}, body, NOW)?.kind).toBe("usage_not_included");
		expect(classifyQuotaResponse(403, {}, body, NOW)?.kind).toBe("usage_not_included");
	});

	it("classifies a plain 429 as rate_limited with retry-after", () => {
		const signal = classifyQuotaResponse(
			429,
			{ "Retry-After": "30" },
			{ error: { type: "rate_limit_exceeded", code: "rate_limit_exceeded", message: "slow down" } },
			NOW,
		);
		expect(signal?.kind).toBe("rate_limited");
		expect(signal?.resetAt).toBe(NOW + 30_000);
	});

	it("classifies a 429 without body or headers as rate_limited without a reset", () => {
		const signal = classifyQuotaResponse(429, {}, undefined, NOW);
		expect(signal?.kind).toBe("rate_limited");
		expect(signal?.resetAt).toBeUndefined();
	});

	it("treats a headers-only 429 with a window at 100 % as usage_limit_reached at that reset", () => {
		const signal = classifyQuotaResponse(
			429,
			{
				"x-codex-primary-used-percent": "100",
				"x-codex-primary-window-minutes": "300",
				"x-codex-primary-reset-at": String(RESETS_AT),
				"x-codex-secondary-used-percent": "35",
				"x-codex-secondary-window-minutes": "10080",
				"x-codex-secondary-reset-at": String(RESETS_AT + 500_000),
			},
			undefined,
			NOW,
		);
		expect(signal?.kind).toBe("usage_limit_reached");
		expect(signal?.resetAt).toBe(RESETS_AT * 1000);
		expect(signal?.usage?.primary?.usedPercent).toBe(100);
		expect(signal?.usage?.secondary?.usedPercent).toBe(35);
	});

	it("treats a headers-only 429 with the weekly window at 100 % as usage_limit_reached", () => {
		const signal = classifyQuotaResponse(
			429,
			{
				"x-codex-primary-used-percent": "20",
				"x-codex-primary-window-minutes": "300",
				"x-codex-primary-reset-at": String(RESETS_AT),
				"x-codex-secondary-used-percent": "100",
				"x-codex-secondary-window-minutes": "10080",
				"x-codex-secondary-reset-at": String(RESETS_AT + 500_000),
			},
			undefined,
			NOW,
		);
		expect(signal?.kind).toBe("usage_limit_reached");
		expect(signal?.resetAt).toBe((RESETS_AT + 500_000) * 1000);
	});

	it("treats a headers-only 429 below 100 % as rate_limited", () => {
		const signal = classifyQuotaResponse(
			429,
			{
				"x-codex-primary-used-percent": "50",
				"x-codex-primary-window-minutes": "300",
				"x-codex-primary-reset-at": String(RESETS_AT),
			},
			undefined,
			NOW,
		);
		expect(signal?.kind).toBe("rate_limited");
	});

	it("ignores answers that are not about quota", () => {
		expect(classifyQuotaResponse(200, {}, undefined, NOW)).toBeUndefined();
		expect(
			classifyQuotaResponse(
				500,
				{},
				{ error: { type: "server_error", code: "server_error" } },
				NOW,
			),
		).toBeUndefined();
		expect(
			classifyQuotaResponse(401, {}, { error: { code: "invalid_api_key" } }, NOW),
		).toBeUndefined();
	});
});

describe("classifyQuotaEvent", () => {
	it("reads the wrapped WebSocket error event (status + error object)", () => {
		const signal = classifyQuotaEvent(
			{
				type: "error",
				status: 429,
				error: {
					type: "usage_limit_reached",
					code: "usage_limit_reached",
					message: "The usage limit has been reached",
					resets_at: RESETS_AT,
				},
				headers: { "x-codex-primary-used-percent": "100" },
			},
			NOW,
		);
		expect(signal).toEqual({ kind: "usage_limit_reached", resetAt: RESETS_AT * 1000 });
	});

	it("reads a flat error event (code on the event itself)", () => {
		const signal = classifyQuotaEvent(
			{ type: "error", code: "usage_not_included", message: "not included in your plan" },
			NOW,
		);
		expect(signal?.kind).toBe("usage_not_included");
	});

	it("treats a 429 error event without a known code as rate_limited", () => {
		const signal = classifyQuotaEvent(
			{ type: "error", status: 429, error: { message: "Too many requests" } },
			NOW,
		);
		expect(signal?.kind).toBe("rate_limited");
	});

	it("reads response.failed with the error inside the response", () => {
		const signal = classifyQuotaEvent(
			{
				type: "response.failed",
				response: {
					id: "resp_1",
					status: "failed",
					error: {
						code: "rate_limit_exceeded",
						message: "Rate limit reached",
						resets_in_seconds: 20,
					},
				},
			},
			NOW,
		);
		expect(signal).toEqual({ kind: "rate_limited", resetAt: NOW + 20_000 });
	});

	it("reads usage_limit_reached in response.failed", () => {
		const signal = classifyQuotaEvent(
			{
				type: "response.failed",
				response: { error: { code: "usage_limit_reached", resets_at: RESETS_AT } },
			},
			NOW,
		);
		expect(signal).toEqual({ kind: "usage_limit_reached", resetAt: RESETS_AT * 1000 });
	});

	it("ignores errors that are not about quota and other events", () => {
		expect(
			classifyQuotaEvent(
				{ type: "error", status: 500, error: { type: "server_error", code: "server_error" } },
				NOW,
			),
		).toBeUndefined();
		expect(
			classifyQuotaEvent(
				{ type: "response.failed", response: { error: { code: "server_error" } } },
				NOW,
			),
		).toBeUndefined();
		expect(
			classifyQuotaEvent({ type: "response.output_text.delta", delta: "429" }, NOW),
		).toBeUndefined();
		expect(classifyQuotaEvent({ type: "codex.rate_limits" }, NOW)).toBeUndefined();
		expect(classifyQuotaEvent("error", NOW)).toBeUndefined();
	});
});
