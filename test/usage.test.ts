// Usage parsing (wham endpoint, rate-limit headers, codex.rate_limits events) and the pure
// helpers the selection and the footer use.
import { describe, expect, it } from "vitest";
import {
	type CodexUsageSnapshot,
	formatResetAt,
	getMaxUsedPercent,
	getNextResetAt,
	getWeeklyResetAt,
	isUsageUntouched,
	parseCodexRateLimitHeaders,
	parseCodexRateLimitsEvent,
	parseCodexUsageResponse,
} from "../usage.ts";

const NOW = 1_767_225_600_000;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

function snapshot(
	primary?: CodexUsageSnapshot["primary"],
	secondary?: CodexUsageSnapshot["secondary"],
): CodexUsageSnapshot {
	return { primary, secondary, fetchedAt: NOW };
}

describe("parseCodexUsageResponse", () => {
	it("reads the 5 h window as primary and the weekly window as secondary", () => {
		const parsed = parseCodexUsageResponse({
			plan_type: "plus",
			rate_limit: {
				primary_window: {
					used_percent: 12.5,
					reset_at: 1_767_230_000,
					limit_window_seconds: 18000,
				},
				secondary_window: { used_percent: 40, reset_at: 1_767_800_000 },
			},
		});
		expect(parsed.primary).toEqual({ usedPercent: 12.5, resetAt: 1_767_230_000_000 });
		expect(parsed.secondary).toEqual({ usedPercent: 40, resetAt: 1_767_800_000_000 });
	});

	it("clamps used_percent to 0..100", () => {
		const parsed = parseCodexUsageResponse({
			rate_limit: {
				primary_window: { used_percent: 150, reset_at: 1 },
				secondary_window: { used_percent: -20, reset_at: 2 },
			},
		});
		expect(parsed.primary?.usedPercent).toBe(100);
		expect(parsed.secondary?.usedPercent).toBe(0);
	});

	it("treats a non-finite used_percent as unknown but keeps the reset", () => {
		const parsed = parseCodexUsageResponse({
			rate_limit: {
				primary_window: { used_percent: Number.POSITIVE_INFINITY, reset_at: 1_767_230_000 },
				secondary_window: { used_percent: Number.NaN, reset_at: 1_767_800_000 },
			},
		});
		expect(parsed.primary).toBeDefined();
		expect(parsed.primary?.usedPercent).toBeUndefined();
		expect(parsed.primary?.resetAt).toBe(1_767_230_000_000);
		expect(parsed.secondary?.usedPercent).toBeUndefined();
		expect(parsed.secondary?.resetAt).toBe(1_767_800_000_000);
	});

	it("treats null and non-numeric values as unknown", () => {
		const parsed = parseCodexUsageResponse({
			rate_limit: {
				primary_window: { used_percent: null, reset_at: 1_767_230_000 },
				secondary_window: { used_percent: 5, reset_at: "soon" },
			},
		});
		expect(parsed.primary?.usedPercent).toBeUndefined();
		expect(parsed.primary?.resetAt).toBe(1_767_230_000_000);
		expect(parsed.secondary?.usedPercent).toBe(5);
		expect(parsed.secondary?.resetAt).toBeUndefined();
	});

	it("drops a window with neither value", () => {
		const parsed = parseCodexUsageResponse({
			rate_limit: {
				primary_window: { used_percent: 3, reset_at: 100 },
				secondary_window: { used_percent: Number.NaN, limit_window_seconds: 604800 },
			},
		});
		expect(parsed.primary).toEqual({ usedPercent: 3, resetAt: 100_000 });
		expect(parsed.secondary).toBeUndefined();
	});

	it("puts a weekly-only plan's lone primary window (604800 s) into the weekly slot", () => {
		const parsed = parseCodexUsageResponse({
			rate_limit: {
				primary_window: {
					used_percent: 80,
					limit_window_seconds: 604800,
					reset_after_seconds: 3600,
					reset_at: 1_767_800_000,
				},
				secondary_window: null,
			},
		});
		expect(parsed.primary).toBeUndefined();
		expect(parsed.secondary).toEqual({ usedPercent: 80, resetAt: 1_767_800_000_000 });
	});

	it("places swapped windows by limit_window_seconds, not by name", () => {
		const parsed = parseCodexUsageResponse({
			rate_limit: {
				primary_window: { used_percent: 40, limit_window_seconds: 604800, reset_at: 1_767_800_000 },
				secondary_window: {
					used_percent: 12,
					limit_window_seconds: 18000,
					reset_at: 1_767_230_000,
				},
			},
		});
		expect(parsed.primary).toEqual({ usedPercent: 12, resetAt: 1_767_230_000_000 });
		expect(parsed.secondary).toEqual({ usedPercent: 40, resetAt: 1_767_800_000_000 });
	});

	it("places windows without limit_window_seconds by name", () => {
		const both = parseCodexUsageResponse({
			rate_limit: {
				primary_window: { used_percent: 12, reset_at: 1_767_230_000 },
				secondary_window: { used_percent: 40, reset_at: 1_767_800_000 },
			},
		});
		expect(both.primary).toEqual({ usedPercent: 12, resetAt: 1_767_230_000_000 });
		expect(both.secondary).toEqual({ usedPercent: 40, resetAt: 1_767_800_000_000 });

		const loneSecondary = parseCodexUsageResponse({
			rate_limit: { secondary_window: { used_percent: 40, reset_at: 1_767_800_000 } },
		});
		expect(loneSecondary.primary).toBeUndefined();
		expect(loneSecondary.secondary).toEqual({ usedPercent: 40, resetAt: 1_767_800_000_000 });
	});

	it("puts the shorter of two weekly-length windows into the 5-hour slot", () => {
		const parsed = parseCodexUsageResponse({
			rate_limit: {
				primary_window: { used_percent: 30, limit_window_seconds: 2_592_000, reset_at: 300 },
				secondary_window: { used_percent: 20, limit_window_seconds: 604800, reset_at: 200 },
			},
		});
		expect(parsed.primary).toEqual({ usedPercent: 20, resetAt: 200_000 });
		expect(parsed.secondary).toEqual({ usedPercent: 30, resetAt: 300_000 });
	});

	it.each([
		["null", null],
		["no rate_limit", { plan_type: "plus" }],
		["rate_limit null", { rate_limit: null }],
		["windows null", { rate_limit: { primary_window: null, secondary_window: null } }],
	])("returns no windows for %s", (_label, data) => {
		const parsed = parseCodexUsageResponse(data);
		expect(parsed.primary).toBeUndefined();
		expect(parsed.secondary).toBeUndefined();
	});
});

describe("usage helpers", () => {
	it("getNextResetAt is the earliest known reset", () => {
		expect(getNextResetAt(snapshot({ resetAt: 300 }, { resetAt: 200 }))).toBe(200);
		expect(getNextResetAt(snapshot({ resetAt: 100 }, { resetAt: 200 }))).toBe(100);
		expect(getNextResetAt(snapshot({ usedPercent: 5 }, { resetAt: 200 }))).toBe(200);
		expect(getNextResetAt(snapshot({ usedPercent: 5 }, undefined))).toBeUndefined();
		expect(getNextResetAt(undefined)).toBeUndefined();
	});

	it("getMaxUsedPercent is the larger known used %", () => {
		expect(getMaxUsedPercent(snapshot({ usedPercent: 10 }, { usedPercent: 40 }))).toBe(40);
		expect(getMaxUsedPercent(snapshot({ usedPercent: 70 }, { usedPercent: 40 }))).toBe(70);
		expect(getMaxUsedPercent(snapshot({ resetAt: 1 }, { usedPercent: 0 }))).toBe(0);
		expect(getMaxUsedPercent(snapshot(undefined, undefined))).toBeUndefined();
		expect(getMaxUsedPercent(undefined)).toBeUndefined();
	});

	it("getWeeklyResetAt is the secondary window's reset", () => {
		expect(getWeeklyResetAt(snapshot({ resetAt: 100 }, { resetAt: 900 }))).toBe(900);
		expect(getWeeklyResetAt(snapshot({ resetAt: 100 }, { usedPercent: 3 }))).toBeUndefined();
		expect(getWeeklyResetAt(undefined)).toBeUndefined();
	});

	it("isUsageUntouched needs both windows known and both at 0 %", () => {
		expect(isUsageUntouched(snapshot({ usedPercent: 0 }, { usedPercent: 0 }))).toBe(true);
		expect(isUsageUntouched(snapshot({ usedPercent: 0 }, { usedPercent: 1 }))).toBe(false);
		expect(isUsageUntouched(snapshot({ usedPercent: 0.5 }, { usedPercent: 0 }))).toBe(false);
		expect(isUsageUntouched(snapshot({ usedPercent: 0 }, undefined))).toBe(false);
		expect(isUsageUntouched(snapshot({ usedPercent: 0 }, { resetAt: 5 }))).toBe(false);
		expect(isUsageUntouched(undefined)).toBe(false);
	});
});

describe("formatResetAt", () => {
	it("says unknown when there is no reset", () => {
		expect(formatResetAt(undefined, NOW)).toBe("unknown");
	});

	it("says now when the reset is past", () => {
		expect(formatResetAt(NOW - 1, NOW)).toBe("now");
		expect(formatResetAt(NOW - DAY, NOW)).toBe("now");
	});

	it("says at least 1 minute when under a minute is left", () => {
		expect(formatResetAt(NOW + 1_000, NOW)).toBe("in 1m");
		expect(formatResetAt(NOW + 20_000, NOW)).toBe("in 1m");
	});

	it("uses minutes under an hour", () => {
		expect(formatResetAt(NOW + 30 * MINUTE, NOW)).toBe("in 30m");
		expect(formatResetAt(NOW + 59 * MINUTE, NOW)).toBe("in 59m");
	});

	it("uses rounded hours under 48 hours", () => {
		expect(formatResetAt(NOW + 90 * MINUTE, NOW)).toBe("in 2h");
		expect(formatResetAt(NOW + 5 * HOUR, NOW)).toBe("in 5h");
		expect(formatResetAt(NOW + 47 * HOUR, NOW)).toBe("in 47h");
	});

	it("uses rounded days from 48 hours on", () => {
		expect(formatResetAt(NOW + 72 * HOUR, NOW)).toBe("in 3d");
		expect(formatResetAt(NOW + 6 * DAY + 20 * HOUR, NOW)).toBe("in 7d");
	});
});

describe("parseCodexRateLimitHeaders", () => {
	it("reads both windows with reset-at (unix seconds)", () => {
		const usage = parseCodexRateLimitHeaders(
			{
				"x-codex-primary-used-percent": "25",
				"x-codex-primary-window-minutes": "300",
				"x-codex-primary-reset-at": "1767230000",
				"x-codex-secondary-used-percent": "60.5",
				"x-codex-secondary-window-minutes": "10080",
				"x-codex-secondary-reset-at": "1767800000",
			},
			NOW,
		);
		expect(usage).toEqual({
			primary: { usedPercent: 25, resetAt: 1_767_230_000_000 },
			secondary: { usedPercent: 60.5, resetAt: 1_767_800_000_000 },
		});
	});

	it("reads reset-after-seconds relative to now", () => {
		const usage = parseCodexRateLimitHeaders(
			{
				"x-codex-primary-used-percent": "10",
				"x-codex-primary-window-minutes": "300",
				"x-codex-primary-reset-after-seconds": "120",
				"x-codex-secondary-used-percent": "20",
				"x-codex-secondary-window-minutes": "10080",
				"x-codex-secondary-reset-after-seconds": "86400",
			},
			NOW,
		);
		expect(usage?.primary).toEqual({ usedPercent: 10, resetAt: NOW + 120_000 });
		expect(usage?.secondary).toEqual({ usedPercent: 20, resetAt: NOW + DAY });
	});

	it("is case-insensitive and clamps the percentage", () => {
		const usage = parseCodexRateLimitHeaders(
			{
				"X-Codex-Primary-Used-Percent": "130",
				"X-Codex-Primary-Window-Minutes": "300",
			},
			NOW,
		);
		expect(usage?.primary?.usedPercent).toBe(100);
	});

	it("puts a weekly window reported as primary (window-minutes 10080) into secondary", () => {
		const usage = parseCodexRateLimitHeaders(
			{
				"x-codex-primary-used-percent": "42",
				"x-codex-primary-window-minutes": "10080",
				"x-codex-primary-reset-at": "1767800000",
			},
			NOW,
		);
		expect(usage?.primary).toBeUndefined();
		expect(usage?.secondary).toEqual({ usedPercent: 42, resetAt: 1_767_800_000_000 });
	});

	it("puts a lone secondary window without window-minutes into the weekly slot", () => {
		const usage = parseCodexRateLimitHeaders(
			{
				"x-codex-secondary-used-percent": "35",
				"x-codex-secondary-reset-at": "1767800000",
			},
			NOW,
		);
		expect(usage?.primary).toBeUndefined();
		expect(usage?.secondary).toEqual({ usedPercent: 35, resetAt: 1_767_800_000_000 });
	});

	it("returns undefined when the answer carries no rate-limit headers", () => {
		expect(
			parseCodexRateLimitHeaders({ "content-type": "text/event-stream" }, NOW),
		).toBeUndefined();
		expect(parseCodexRateLimitHeaders({}, NOW)).toBeUndefined();
	});
});

describe("parseCodexRateLimitsEvent", () => {
	it("reads a codex.rate_limits event by window length", () => {
		const usage = parseCodexRateLimitsEvent(
			{
				type: "codex.rate_limits",
				plan_type: "plus",
				rate_limits: {
					primary: { used_percent: 7, window_minutes: 300, reset_at: 1_767_230_000 },
					secondary: { used_percent: 55, window_minutes: 10080, reset_at: 1_767_800_000 },
				},
			},
			NOW,
		);
		expect(usage).toEqual({
			primary: { usedPercent: 7, resetAt: 1_767_230_000_000 },
			secondary: { usedPercent: 55, resetAt: 1_767_800_000_000 },
		});
	});

	it("puts a weekly-only plan's primary window into secondary", () => {
		const usage = parseCodexRateLimitsEvent(
			{
				type: "codex.rate_limits",
				rate_limits: {
					primary: { used_percent: 80, window_minutes: 10080, reset_after_seconds: 3600 },
				},
			},
			NOW,
		);
		expect(usage?.primary).toBeUndefined();
		expect(usage?.secondary).toEqual({ usedPercent: 80, resetAt: NOW + HOUR });
	});

	it("puts a lone secondary window without a length into the weekly slot", () => {
		const usage = parseCodexRateLimitsEvent(
			{
				type: "codex.rate_limits",
				rate_limits: { secondary: { used_percent: 55, reset_at: 1_767_800_000 } },
			},
			NOW,
		);
		expect(usage?.primary).toBeUndefined();
		expect(usage?.secondary).toEqual({ usedPercent: 55, resetAt: 1_767_800_000_000 });
	});

	it("ignores other events and empty ones", () => {
		expect(parseCodexRateLimitsEvent({ type: "response.created" }, NOW)).toBeUndefined();
		expect(parseCodexRateLimitsEvent(null, NOW)).toBeUndefined();
		expect(
			parseCodexRateLimitsEvent({ type: "codex.rate_limits", rate_limits: {} }, NOW),
		).toBeUndefined();
	});
});
