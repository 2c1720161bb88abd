// SPEC A7: the footer text, its colours and the reset countdown (pure, fake theme).
import { describe, expect, it } from "vitest";
import { DEFAULT_FOOTER_PREFERENCES, type FooterPreferences } from "../footer-settings.ts";
import {
	FOOTER_IDENTIFIER_MAX,
	type FooterTheme,
	formatActiveAccountStatus,
	formatNoActiveAccount,
	formatResetCountdown,
	isManagedModel,
	shortenIdentifier,
} from "../status.ts";
import type { CodexUsageSnapshot } from "../usage.ts";

const NOW = 1_767_225_600_000;
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const theme: FooterTheme = { fg: (color, text) => `<${color}>${text}</${color}>` };

function strip(text: string): string {
	return text.replace(/<\/?[A-Za-z]+>/g, "");
}

function prefs(changes: Partial<FooterPreferences> = {}): FooterPreferences {
	return { ...DEFAULT_FOOTER_PREFERENCES, ...changes };
}

/** 5 h: 10 % used (90 % left), resets in 1 h; 7 d: 20 % used (80 % left), resets in 2d23h. */
const USAGE: CodexUsageSnapshot = {
	primary: { usedPercent: 10, resetAt: NOW + HOUR },
	secondary: { usedPercent: 20, resetAt: NOW + 2 * DAY + 23 * HOUR },
	fetchedAt: NOW,
};

function render(
	changes: Partial<FooterPreferences> = {},
	usage: CodexUsageSnapshot | undefined = USAGE,
) {
	return formatActiveAccountStatus(theme, "a@x.com", usage, prefs(changes), NOW);
}

function usageWith(primaryUsed: number | undefined): CodexUsageSnapshot {
	return { primary: { usedPercent: primaryUsed }, secondary: { usedPercent: 0 }, fetchedAt: NOW };
}

/** The colour of the 5 h segment. */
function fiveHourColor(text: string): string | undefined {
	return /<([A-Za-z]+)>5h:/.exec(text)?.[1];
}

describe("formatActiveAccountStatus", () => {
	it("renders the documented example with the default preferences", () => {
		expect(strip(render())).toBe("Codex · a@x.com · 5h:90% left · 7d:80% left (↺2d23h)");
	});

	it("colours each part", () => {
		const text = render();
		expect(text).toContain("<muted>Codex</muted>");
		expect(text).toContain("<muted>·</muted>");
		expect(text).toContain("<success>5h:90% left</success>");
		expect(text).toContain("<success>7d:80% left (↺2d23h)</success>");
		expect(text).toContain("a@x.com");
	});

	it("works with a ctx-like source holding the theme", () => {
		const text = formatActiveAccountStatus(
			{ ui: { theme } },
			"a@x.com",
			USAGE,
			DEFAULT_FOOTER_PREFERENCES,
			NOW,
		);
		expect(strip(text)).toBe("Codex · a@x.com · 5h:90% left · 7d:80% left (↺2d23h)");
	});

	it("shows used percentages in used mode", () => {
		expect(strip(render({ usageMode: "used" }))).toBe(
			"Codex · a@x.com · 5h:10% used · 7d:20% used (↺2d23h)",
		);
	});

	it("puts the identifier last with usage-first", () => {
		expect(strip(render({ order: "usage-first" }))).toBe(
			"Codex · 5h:90% left · 7d:80% left (↺2d23h) · a@x.com",
		);
	});

	it("leaves the identifier out when showAccount is off", () => {
		const text = strip(render({ showAccount: false }));
		expect(text).toBe("Codex · 5h:90% left · 7d:80% left (↺2d23h)");
		expect(text).not.toContain("a@x.com");
	});

	it("shows the reset of the windows resetWindow selects", () => {
		expect(strip(render({ resetWindow: "5h" }))).toBe(
			"Codex · a@x.com · 5h:90% left (↺1h0m) · 7d:80% left",
		);
		expect(strip(render({ resetWindow: "7d" }))).toBe(
			"Codex · a@x.com · 5h:90% left · 7d:80% left (↺2d23h)",
		);
		expect(strip(render({ resetWindow: "both" }))).toBe(
			"Codex · a@x.com · 5h:90% left (↺1h0m) · 7d:80% left (↺2d23h)",
		);
	});

	it("shows no reset when showReset is off", () => {
		expect(strip(render({ showReset: false, resetWindow: "both" }))).toBe(
			"Codex · a@x.com · 5h:90% left · 7d:80% left",
		);
	});

	it("rounds the percentage", () => {
		const usage: CodexUsageSnapshot = {
			primary: { usedPercent: 10.4 },
			secondary: { usedPercent: 33.6 },
			fetchedAt: NOW,
		};
		expect(strip(render({ showReset: false }, usage))).toBe(
			"Codex · a@x.com · 5h:90% left · 7d:66% left",
		);
	});

	it.each([
		[90, "error"], // 10 % left
		[89, "warning"], // 11 % left
		[75, "warning"], // 25 % left
		[74, "thinkingMedium"], // 26 % left
		[50, "thinkingMedium"], // 50 % left
		[49, "success"], // 51 % left
		[100, "error"], // 0 % left
		[0, "success"],
	])("in left mode, %i %% used is %s", (used, color) => {
		expect(fiveHourColor(render({ usageMode: "left" }, usageWith(used)))).toBe(color);
	});

	it.each([
		[90, "error"],
		[89, "warning"],
		[75, "warning"],
		[74, "thinkingMedium"],
		[50, "thinkingMedium"],
		[49, "success"],
		[0, "success"],
	])("in used mode, %i %% used is %s", (used, color) => {
		expect(fiveHourColor(render({ usageMode: "used" }, usageWith(used)))).toBe(color);
	});

	it.each([
		[89.6, "used", "90% used", "error"],
		[89.4, "used", "89% used", "warning"],
		[89.6, "left", "10% left", "error"], // 10.4 % left
		[49.6, "left", "50% left", "thinkingMedium"], // 50.4 % left
	] as const)(
		"colours %d %% used in %s mode by the number shown, %s, as %s",
		(used, mode, shown, color) => {
			const text = render({ usageMode: mode, showReset: false }, usageWith(used));
			expect(strip(text)).toContain(`5h:${shown}`);
			expect(fiveHourColor(text)).toBe(color);
		},
	);

	it("shows an unknown window as -- in dim", () => {
		const usage: CodexUsageSnapshot = {
			primary: undefined,
			secondary: { usedPercent: 20 },
			fetchedAt: NOW,
		};
		const text = render({ showReset: false }, usage);
		expect(text).toContain("<dim>5h:--</dim>");
		expect(strip(text)).toBe("Codex · a@x.com · 5h:-- · 7d:80% left");
	});

	it("shows the loading text before usage is known", () => {
		const loading = (changes: Partial<FooterPreferences>) =>
			formatActiveAccountStatus(theme, "a@x.com", undefined, prefs(changes), NOW);
		expect(strip(loading({}))).toBe("Codex a@x.com loading...");
		expect(strip(loading({ showAccount: false }))).toBe("Codex loading...");
	});

	it("shortens a long identifier in its middle so the quota fits in 80 columns", () => {
		const long = "firstname.middlename.lastname@very-long-company-name.example.com";
		const text = strip(formatActiveAccountStatus(theme, long, USAGE, prefs(), NOW));
		expect(text).toBe(
			"Codex · firstname.middle…ame.example.com · 5h:90% left · 7d:80% left (↺2d23h)",
		);
		expect(text.length).toBeLessThanOrEqual(80);
		const loading = strip(formatActiveAccountStatus(theme, long, undefined, prefs(), NOW));
		expect(loading).toBe("Codex firstname.middle…ame.example.com loading...");
	});

	it("shows the identifier whole up to its limit", () => {
		const exact = `${"x".repeat(FOOTER_IDENTIFIER_MAX - 6)}@x.com`;
		expect(strip(formatActiveAccountStatus(theme, exact, USAGE, prefs(), NOW))).toContain(
			`· ${exact} ·`,
		);
	});

	it("shows a warning when there is no active account", () => {
		expect(formatNoActiveAccount(theme)).toBe("<warning>Multicodex no active account</warning>");
	});
});

describe("formatResetCountdown", () => {
	it.each([
		[2 * DAY + 23 * HOUR, "2d23h"],
		[DAY, "1d0h"],
		[3 * HOUR + 5 * MINUTE, "3h5m"],
		[HOUR, "1h0m"],
		[5 * MINUTE + 30 * SECOND, "5m"],
		[45 * SECOND, "45s"],
		[0, "0s"],
		[-MINUTE, "0s"],
	])("formats %i ms as %s", (delta, expected) => {
		expect(formatResetCountdown(NOW + delta, NOW)).toBe(expected);
	});

	it("returns undefined without a reset", () => {
		expect(formatResetCountdown(undefined, NOW)).toBeUndefined();
	});
});

describe("shortenIdentifier", () => {
	it.each([
		["a@x.com", "a@x.com"],
		// A short domain is kept whole; the local part loses its middle.
		["averyveryverylonglocalpartname1234567@x.com", "averyveryverylonglocalpar…@x.com"],
		// A long domain keeps its end.
		[
			"firstname.middlename.lastname@very-long-company-name.example.com",
			"firstname.middle…ame.example.com",
		],
		// Not an e-mail address: start and end.
		["my-very-long-account-name-for-the-work-stuff", "my-very-long-acc…-the-work-stuff"],
	])("%s → %s", (identifier, shown) => {
		expect(shortenIdentifier(identifier)).toBe(shown);
		expect(Array.from(shortenIdentifier(identifier)).length).toBeLessThanOrEqual(
			FOOTER_IDENTIFIER_MAX,
		);
	});

	it("counts characters, not UTF-16 units", () => {
		const emoji = `${"😀".repeat(40)}@x.com`;
		const shown = shortenIdentifier(emoji);
		expect(Array.from(shown)).toHaveLength(FOOTER_IDENTIFIER_MAX);
		expect(shown.endsWith("…@x.com")).toBe(true);
		expect(shown).not.toContain("\uFFFD");
	});
});

describe("isManagedModel", () => {
	it("is true only for the openai-codex provider", () => {
		const model = { provider: "openai-codex" } as Parameters<typeof isManagedModel>[0];
		expect(isManagedModel(model)).toBe(true);
		expect(isManagedModel({ ...model!, provider: "anthropic" })).toBe(false);
		expect(isManagedModel(undefined)).toBe(false);
	});
});
