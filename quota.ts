// Recognising and classifying quota answers (pure). A 429 is not one thing: an exhausted plan
// waits for its reset, a plan without Codex never works, and a plain rate limit passes soon.
import { isJsonObject } from "./provider-utils.ts";
import { type CodexUsageSnapshot, getNextResetAt, parseCodexRateLimitHeaders } from "./usage.ts";

const QUOTA_MESSAGE = /\b429\b|quota|usage limit|rate[ _-]?limit|too many requests|limit reached/i;

export function isQuotaErrorMessage(message: string): boolean {
	return QUOTA_MESSAGE.test(message);
}

export type QuotaKind = "usage_limit_reached" | "usage_not_included" | "rate_limited";

export interface QuotaSignal {
	kind: QuotaKind;
	/** When the account can be used again, if the answer said (ms since epoch). */
	resetAt?: number;
	/** Usage windows the answer carried (headers), if any. */
	usage?: Omit<CodexUsageSnapshot, "fetchedAt">;
}

function kindFromCode(code: unknown): QuotaKind | undefined {
	if (typeof code !== "string") return undefined;
	if (/usage_not_included/i.test(code)) return "usage_not_included";
	if (/usage_limit_reached/i.test(code)) return "usage_limit_reached";
	if (/rate_limit|too_many_requests/i.test(code)) return "rate_limited";
	return undefined;
}

/** A number from an untrusted answer: numbers and numeric strings only (NaN otherwise). */
function toNumber(value: unknown): number {
	if (typeof value === "number") return value;
	if (typeof value === "string" && value.trim() !== "") return Number(value);
	return Number.NaN;
}

function resetFromErrorObject(error: Record<string, unknown>, now: number): number | undefined {
	const resetsAt = toNumber(error.resets_at ?? error.reset_at);
	if (Number.isFinite(resetsAt) && resetsAt > 0) return resetsAt * 1000;
	const resetsIn = toNumber(error.resets_in_seconds ?? error.reset_after_seconds);
	if (Number.isFinite(resetsIn) && resetsIn >= 0) return now + resetsIn * 1000;
	return undefined;
}

/** Finds the `{ type|code, resets_at }` error object in a body or stream event. */
function findErrorObject(value: unknown): Record<string, unknown> | undefined {
	if (!isJsonObject(value)) return undefined;
	if (isJsonObject(value.error)) return value.error;
	if (isJsonObject(value.response) && isJsonObject(value.response.error)) {
		return value.response.error;
	}
	if (value.type === "error") return value;
	return undefined;
}

function retryAfterMs(
	headers: Record<string, string | undefined>,
	now: number,
): number | undefined {
	for (const [key, value] of Object.entries(headers)) {
		if (key.toLowerCase() !== "retry-after" || value === undefined) continue;
		const seconds = toNumber(value);
		if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
		const date = Date.parse(value);
		if (!Number.isNaN(date)) return Math.max(0, date - now);
	}
	return undefined;
}

/**
 * Classifies an HTTP answer from its status, headers and (when it could be read) its body.
 * Returns undefined for answers that are not about quota.
 */
export function classifyQuotaResponse(
	status: number,
	headers: Record<string, string | undefined>,
	body: unknown,
	now: number,
): QuotaSignal | undefined {
	const error = findErrorObject(body);
	const codeKind = kindFromCode(error?.code) ?? kindFromCode(error?.type);
	if (status !== 429 && !codeKind) return undefined;
	const usage = parseCodexRateLimitHeaders(headers, now);
	const exhaustedWindowReset = [usage?.primary, usage?.secondary]
		.filter((w) => (w?.usedPercent ?? 0) >= 100 && w?.resetAt)
		.map((w) => w?.resetAt as number)
		.sort((a, b) => b - a)[0];
	const kind: QuotaKind =
		codeKind ?? (exhaustedWindowReset !== undefined ? "usage_limit_reached" : "rate_limited");
	let resetAt = error ? resetFromErrorObject(error, now) : undefined;
	if (resetAt === undefined && kind === "usage_limit_reached") {
		resetAt =
			exhaustedWindowReset ?? getNextResetAt(usage ? { ...usage, fetchedAt: now } : undefined);
	}
	if (resetAt === undefined && kind === "rate_limited") {
		const after = retryAfterMs(headers, now);
		if (after !== undefined) resetAt = now + after;
	}
	return { kind, resetAt, usage };
}

/** Classifies a raw Codex stream event (`error`, `response.failed`) on the WebSocket path. */
export function classifyQuotaEvent(event: unknown, now: number): QuotaSignal | undefined {
	if (!isJsonObject(event)) return undefined;
	if (event.type !== "error" && event.type !== "response.failed") return undefined;
	const error = findErrorObject(event);
	if (!error) return undefined;
	const status = toNumber(event.status ?? event.status_code ?? error.status);
	const kind = kindFromCode(error.code) ?? kindFromCode(error.type);
	if (!kind && status !== 429) return undefined;
	return {
		kind: kind ?? "rate_limited",
		resetAt: resetFromErrorObject(error, now),
	};
}

/** Classifies a final error message when nothing better was seen (2.3.1's rule). */
export function classifyQuotaErrorMessage(message: string): QuotaSignal | undefined {
	if (!isQuotaErrorMessage(message)) return undefined;
	if (/usage_not_included|not included in your plan/i.test(message)) {
		return { kind: "usage_not_included" };
	}
	if (/usage limit|usage_limit_reached|quota|limit reached/i.test(message)) {
		return { kind: "usage_limit_reached" };
	}
	return { kind: "rate_limited" };
}
