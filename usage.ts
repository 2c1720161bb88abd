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

/** Windows longer than a day are the weekly one; a day or shorter, the 5-hour one. */
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

type WindowName = "primary" | "secondary";

interface SizedWindow {
	window: CodexUsageWindow;
	name: WindowName;
	minutes?: number;
}

/** The length a window's name stands for, used only when the window does not state its own. */
const MINUTES_BY_NAME: Record<WindowName, number> = { primary: 5 * 60, secondary: 7 * 24 * 60 };

function lengthInMinutes({ name, minutes }: SizedWindow): number {
	return minutes !== undefined && minutes > 0 ? minutes : MINUTES_BY_NAME[name];
}

function secondsToMinutes(value: unknown): number | undefined {
	const n = finiteNumber(value);
	return n === undefined ? undefined : n / 60;
}

/**
 * Places windows by length, not position (weekly-only plans report the weekly window first);
 * a window without a length counts as the one its name stands for. Of two windows the shorter
 * is the 5-hour one even when both fall on the same side of a day; equal lengths keep name order.
 */
function placeWindowsByLength(
	windows: SizedWindow[],
): Omit<CodexUsageSnapshot, "fetchedAt"> | undefined {
	const [shorter, longer] = [...windows].sort((a, b) => lengthInMinutes(a) - lengthInMinutes(b));
	if (!shorter) return undefined;
	if (longer) return { primary: shorter.window, secondary: longer.window };
	return lengthInMinutes(shorter) > WEEKLY_THRESHOLD_MINUTES
		? { secondary: shorter.window }
		: { primary: shorter.window };
}

function parseWhamWindow(value: unknown, name: WindowName): SizedWindow | undefined {
	if (!isJsonObject(value)) return undefined;
	const window = makeWindow(normalizeUsedPercent(value.used_percent), secondsToMs(value.reset_at));
	if (!window) return undefined;
	return { window, name, minutes: secondsToMinutes(value.limit_window_seconds) };
}

/** Parses `GET …/wham/usage` into the 5-hour (primary) and weekly (secondary) slots. */
export function parseCodexUsageResponse(data: unknown): Omit<CodexUsageSnapshot, "fetchedAt"> {
	const rateLimit = isJsonObject(data) ? data.rate_limit : undefined;
	if (!isJsonObject(rateLimit)) return { primary: undefined, secondary: undefined };
	const windows = [
		parseWhamWindow(rateLimit.primary_window, "primary"),
		parseWhamWindow(rateLimit.secondary_window, "secondary"),
	].filter((value): value is SizedWindow => value !== undefined);
	const placed = placeWindowsByLength(windows);
	return { primary: placed?.primary, secondary: placed?.secondary };
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
	for (const name of ["primary", "secondary"] as const) {
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
			windows.push({ window, name, minutes: finiteNumber(lower[`${prefix}window-minutes`]) });
		}
	}
	return placeWindowsByLength(windows);
}

function parseEventWindow(value: unknown, name: WindowName, now: number): SizedWindow | undefined {
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
		finiteNumber(value.window_minutes) ?? secondsToMinutes(value.limit_window_seconds);
	return { window, name, minutes };
}

/** Reads a `codex.rate_limits` stream event (WebSocket transport). */
export function parseCodexRateLimitsEvent(
	event: unknown,
	now: number,
): Omit<CodexUsageSnapshot, "fetchedAt"> | undefined {
	if (!isJsonObject(event) || event.type !== "codex.rate_limits") return undefined;
	const source = isJsonObject(event.rate_limits) ? event.rate_limits : event;
	const windows = [
		parseEventWindow(source.primary, "primary", now),
		parseEventWindow(source.secondary, "secondary", now),
	].filter((value): value is SizedWindow => value !== undefined);
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
