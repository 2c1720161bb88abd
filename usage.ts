// Codex usage data: parsing the usage endpoint, the rate-limit headers and stream events,
// and the pure helpers the selection and the footer use. No I/O here.
import { isJsonObject } from "./provider-utils.ts";

export interface CodexUsageWindow {
	usedPercent?: number;
	resetAt?: number;
}

export interface CodexUsageSnapshot {
	/** The 5-hour window. */
	primary?: CodexUsageWindow;
	/** The weekly window. */
	secondary?: CodexUsageWindow;
	fetchedAt: number;
}

/** Windows longer than a day are the weekly one; shorter ones the 5-hour one. */
const WEEKLY_THRESHOLD_MINUTES = 24 * 60;

function finiteNumber(value: unknown): number | undefined {
	if (typeof value === "string" && value.trim() !== "") return finiteNumber(Number(value));
	return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

function normalizeUsedPercent(value: unknown): number | undefined {
	const n = finiteNumber(value);
	return n === undefined ? undefined : Math.min(100, Math.max(0, n));
}

function secondsToMs(value: unknown): number | undefined {
	const n = finiteNumber(value);
	return n === undefined ? undefined : n * 1000;
}

function makeWindow(usedPercent?: number, resetAt?: number): CodexUsageWindow | undefined {
	if (usedPercent === undefined && resetAt === undefined) return undefined;
	return { usedPercent, resetAt };
}

function parseWhamWindow(window: unknown): CodexUsageWindow | undefined {
	if (!isJsonObject(window)) return undefined;
	return makeWindow(normalizeUsedPercent(window.used_percent), secondsToMs(window.reset_at));
}

/** Parses `GET …/wham/usage`: primary = 5 h window, secondary = weekly window. */
export function parseCodexUsageResponse(data: unknown): Omit<CodexUsageSnapshot, "fetchedAt"> {
	const rateLimit = isJsonObject(data) ? data.rate_limit : undefined;
	if (!isJsonObject(rateLimit)) return { primary: undefined, secondary: undefined };
	return {
		primary: parseWhamWindow(rateLimit.primary_window),
		secondary: parseWhamWindow(rateLimit.secondary_window),
	};
}

interface SizedWindow {
	window: CodexUsageWindow;
	minutes?: number;
}

/** Places windows by length (weekly-only plans report the weekly window first). */
function placeWindowsByLength(
	windows: SizedWindow[],
): Omit<CodexUsageSnapshot, "fetchedAt"> | undefined {
	if (windows.length === 0) return undefined;
	const snapshot: Omit<CodexUsageSnapshot, "fetchedAt"> = {};
	windows.forEach(({ window, minutes }, index) => {
		const isWeekly = minutes !== undefined ? minutes >= WEEKLY_THRESHOLD_MINUTES : index === 1;
		if (isWeekly) snapshot.secondary ??= window;
		else snapshot.primary ??= window;
	});
	return snapshot;
}

/**
 * Reads the `x-codex-primary-*` / `x-codex-secondary-*` headers every Codex answer carries.
 * Returns undefined when the answer carries none.
 */
export function parseCodexRateLimitHeaders(
	headers: Record<string, string | undefined>,
	now: number,
): Omit<CodexUsageSnapshot, "fetchedAt"> | undefined {
	const lower: Record<string, string | undefined> = {};
	for (const [key, value] of Object.entries(headers)) lower[key.toLowerCase()] = value;
	const windows: SizedWindow[] = [];
	for (const name of ["primary", "secondary"]) {
		const prefix = `x-codex-${name}-`;
		const usedPercent = normalizeUsedPercent(lower[`${prefix}used-percent`]);
		const resetAtSeconds = finiteNumber(lower[`${prefix}reset-at`]);
		const resetAfterSeconds = finiteNumber(lower[`${prefix}reset-after-seconds`]);
		const resetAt =
			resetAtSeconds !== undefined
				? resetAtSeconds * 1000
				: resetAfterSeconds !== undefined
					? now + resetAfterSeconds * 1000
					: undefined;
		const window = makeWindow(usedPercent, resetAt);
		if (window) {
			windows.push({ window, minutes: finiteNumber(lower[`${prefix}window-minutes`]) });
		}
	}
	return placeWindowsByLength(windows);
}

function parseEventWindow(value: unknown, now: number): SizedWindow | undefined {
	if (!isJsonObject(value)) return undefined;
	const usedPercent = normalizeUsedPercent(value.used_percent);
	const resetAtSeconds = finiteNumber(value.reset_at ?? value.resets_at);
	const resetAfter = finiteNumber(value.reset_after_seconds ?? value.resets_in_seconds);
	const resetAt =
		resetAtSeconds !== undefined
			? resetAtSeconds * 1000
			: resetAfter !== undefined
				? now + resetAfter * 1000
				: undefined;
	const window = makeWindow(usedPercent, resetAt);
	if (!window) return undefined;
	const minutes =
		finiteNumber(value.window_minutes) ??
		(finiteNumber(value.limit_window_seconds) !== undefined
			? (finiteNumber(value.limit_window_seconds) as number) / 60
			: undefined);
	return { window, minutes };
}

/** Reads a `codex.rate_limits` stream event (WebSocket transport). */
export function parseCodexRateLimitsEvent(
	event: unknown,
	now: number,
): Omit<CodexUsageSnapshot, "fetchedAt"> | undefined {
	if (!isJsonObject(event) || event.type !== "codex.rate_limits") return undefined;
	const source = isJsonObject(event.rate_limits) ? event.rate_limits : event;
	const windows = [source.primary, source.secondary]
		.map((value) => parseEventWindow(value, now))
		.filter((value): value is SizedWindow => value !== undefined);
	return placeWindowsByLength(windows);
}

export function isUsageUntouched(usage?: CodexUsageSnapshot): boolean {
	const primary = usage?.primary?.usedPercent;
	const secondary = usage?.secondary?.usedPercent;
	if (primary === undefined || secondary === undefined) return false;
	return primary === 0 && secondary === 0;
}

export function getNextResetAt(usage?: CodexUsageSnapshot): number | undefined {
	const candidates = [usage?.primary?.resetAt, usage?.secondary?.resetAt].filter(
		(value): value is number => typeof value === "number",
	);
	return candidates.length === 0 ? undefined : Math.min(...candidates);
}

export function getMaxUsedPercent(usage?: CodexUsageSnapshot): number | undefined {
	const candidates = [usage?.primary?.usedPercent, usage?.secondary?.usedPercent].filter(
		(value): value is number => typeof value === "number",
	);
	return candidates.length === 0 ? undefined : Math.max(...candidates);
}

export function getWeeklyResetAt(usage?: CodexUsageSnapshot): number | undefined {
	const resetAt = usage?.secondary?.resetAt;
	return typeof resetAt === "number" ? resetAt : undefined;
}

export function formatResetAt(resetAt?: number, now = Date.now()): string {
	if (!resetAt) return "unknown";
	const diffMs = resetAt - now;
	if (diffMs <= 0) return "now";
	const diffMinutes = Math.max(1, Math.round(diffMs / 60_000));
	if (diffMinutes < 60) return `in ${diffMinutes}m`;
	const diffHours = Math.round(diffMinutes / 60);
	if (diffHours < 48) return `in ${diffHours}h`;
	return `in ${Math.round(diffHours / 24)}d`;
}
