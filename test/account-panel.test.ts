// The account panel (SPEC A8 + issue 3): pure rendering with a fake theme (title and key
// hints, counts, rows with tags and usage bars, the scrolling window, the selected line) and
// the keys, with a fake keybindings manager.
import { visibleWidth } from "@mariozechner/pi-tui";
import { describe, expect, it } from "vitest";
import {
	AccountPanel,
	type AccountPanelAction,
	type AccountPanelModel,
	formatUsageBars,
	type PanelTheme,
	renderAccountPanel,
	type SelectKeys,
	VISIBLE_ACCOUNTS,
	windowStart,
} from "../account-panel.ts";
import type { AccountSummary } from "../account-status.ts";

const NOW = 1_767_225_600_000;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const theme: PanelTheme = {
	fg: (color, text) => `<${color}>${text}</${color}>`,
	bold: (text) => `<b>${text}</b>`,
};
const plain: PanelTheme = { fg: (_c, text) => text, bold: (text) => text };

function account(email: string, changes: Partial<AccountSummary> = {}): AccountSummary {
	return {
		email,
		tags: [],
		usage: {
			primary: { usedPercent: 10, resetAt: NOW + 2 * HOUR + 5 * MINUTE },
			secondary: { usedPercent: 20, resetAt: NOW + 2 * DAY + 23 * HOUR },
			fetchedAt: NOW,
		},
		isActive: false,
		isPlaceholder: false,
		needsReauth: false,
		codexNotIncluded: false,
		...changes,
	};
}

function model(accounts: AccountSummary[], usageMode: "left" | "used" = "left"): AccountPanelModel {
	return { accounts, usageMode, now: NOW };
}

const THREE = [
	account("a@x.com", { tags: ["active", "manual"], isActive: true }),
	account("b@x.com", { tags: ["needs reauth"], needsReauth: true, usage: undefined }),
	account("c@x.com", { tags: ["placeholder"], isPlaceholder: true, usage: undefined }),
];

describe("windowStart", () => {
	it("keeps the selected row in view, centred when it can", () => {
		expect(windowStart(0, 3, 6)).toBe(0);
		expect(windowStart(2, 3, 6)).toBe(0);
		expect(windowStart(0, 20, 6)).toBe(0);
		expect(windowStart(10, 20, 6)).toBe(7);
		expect(windowStart(19, 20, 6)).toBe(14);
	});
});

describe("formatUsageBars", () => {
	it("shows both windows as bars with the percentage left and the reset countdown", () => {
		expect(formatUsageBars(plain, THREE[0]?.usage, "left", NOW)).toBe(
			"5h ▕█████████░▏ 90% left   ↺2h5m     7d ▕████████░░▏ 80% left   ↺2d23h",
		);
	});

	it("keeps two spaces before the countdown at 100%, the countdowns in one column", () => {
		const now = NOW;
		const full = {
			primary: { usedPercent: 100, resetAt: now + 82 * 60_000 },
			secondary: { usedPercent: 5, resetAt: now + 82 * 60_000 },
			fetchedAt: now,
		};
		const used = formatUsageBars(plain, full, "used", now);
		expect(used).toBe("5h ▕██████████▏ 100% used  ↺1h22m    7d ▕█░░░░░░░░░▏ 5% used    ↺1h22m");
		const fresh = { ...full, primary: { usedPercent: 0, resetAt: now + 82 * 60_000 } };
		const left = formatUsageBars(plain, fresh, "left", now);
		expect(left).toContain("100% left  ↺1h22m");
		expect(left.indexOf("↺")).toBe(used.indexOf("↺"));
		expect(left.lastIndexOf("↺")).toBe(used.lastIndexOf("↺"));
	});

	it("follows the footer's used mode", () => {
		expect(formatUsageBars(plain, THREE[0]?.usage, "used", NOW)).toContain(
			"5h ▕█░░░░░░░░░▏ 10% used",
		);
	});

	it("colours each window by severity and leaves unknown windows empty", () => {
		const low = account("x", {
			usage: { primary: { usedPercent: 95 }, secondary: undefined, fetchedAt: NOW },
		});
		const text = formatUsageBars(theme, low.usage, "left", NOW);
		expect(text).toContain("<error>▕█░░░░░░░░░▏</error>");
		expect(text).toMatch(/<dim>▕░░░░░░░░░░▏<\/dim> <dim>--<\/dim>$/);
	});
});

describe("renderAccountPanel", () => {
	it("shows title, key hints, counts, rows and the selected account", () => {
		const lines = renderAccountPanel(model(THREE), 0, 120, plain);
		expect(lines[0]).toBe("─".repeat(120));
		expect(lines[1]).toMatch(
			/^MultiCodex Accounts +enter use · u refresh · r reauth · n add · backspace remove · esc close$/,
		);
		expect(lines[1]).toHaveLength(120);
		expect(lines[2]).toBe("3 accounts · 1 need reauth · 1 placeholder");
		expect(lines).toContain("> a@x.com [active] [manual]");
		expect(lines).toContain("  b@x.com [needs reauth]");
		expect(lines.some((l) => l.startsWith("    5h ▕█████████░▏ 90% left"))).toBe(true);
		expect(lines.at(-2)).toBe("selected: a@x.com · 1/3");
		expect(lines.at(-1)).toBe("─".repeat(120));
	});

	it("colours the tags", () => {
		const text = renderAccountPanel(model(THREE), 0, 120, theme).join("\n");
		expect(text).toContain("<accent>[active]</accent>");
		expect(text).toContain("<warning>[manual]</warning>");
		expect(text).toContain("<error>[needs reauth]</error>");
		expect(text).toContain("<accent>></accent> <b>a@x.com</b>");
	});

	it("says what a selected account needs", () => {
		expect(renderAccountPanel(model(THREE), 1, 120, plain).at(-2)).toBe(
			"selected: b@x.com · needs a new login, press r · 2/3",
		);
		expect(renderAccountPanel(model(THREE), 2, 120, plain).at(-2)).toBe(
			"selected: c@x.com · restored placeholder, re-auth required · 3/3",
		);
	});

	it("shows an account whose plan has no Codex, within the width", () => {
		const flagged = account("long.name.of.an.account@example.com", {
			tags: ["active", "manual", "no codex", "quota"],
			codexNotIncluded: true,
		});
		const text = renderAccountPanel(model([flagged]), 0, 200, theme).join("\n");
		expect(text).toContain("<error>[no codex]</error>");
		expect(renderAccountPanel(model([flagged]), 0, 120, plain).at(-2)).toBe(
			"selected: long.name.of.an.account@example.com · its plan has no Codex, press r to log in again · 1/1",
		);
		for (const width of [40, 60, 120]) {
			for (const line of renderAccountPanel(model([flagged]), 0, width, plain)) {
				expect(visibleWidth(line)).toBeLessThanOrEqual(width);
			}
		}
	});

	it("puts the key hints on a line of their own when narrow, and never exceeds the width", () => {
		const lines = renderAccountPanel(model(THREE), 0, 60, plain);
		expect(lines[1]).toBe("MultiCodex Accounts");
		expect(lines[2]).toMatch(/^enter use · u refresh/);
		for (const line of lines) expect(visibleWidth(line)).toBeLessThanOrEqual(60);
	});

	it("scrolls a window of accounts with markers for the rest", () => {
		const many = Array.from({ length: 10 }, (_, i) => account(`user${i}@x.com`));
		const lines = renderAccountPanel(model(many), 7, 120, plain);
		const rows = lines.filter((l) => /^[ >] user\d/.test(l));
		expect(rows).toHaveLength(VISIBLE_ACCOUNTS);
		expect(rows[0]).toBe("  user4@x.com");
		expect(lines).toContain("> user7@x.com");
		expect(lines).toContain("  ↑ 4 more");
		expect(lines).not.toContain("  ↓ 0 more");
		expect(renderAccountPanel(model(many), 0, 120, plain)).toContain("  ↓ 4 more");
		expect(lines.at(-2)).toBe("selected: user7@x.com · 8/10");
	});

	it("invites to add an account when there is none", () => {
		const lines = renderAccountPanel(model([]), 0, 80, plain);
		expect(lines).toContain("0 accounts");
		expect(lines).toContain("  No accounts yet: press n to add one");
	});
});

describe("AccountPanel keys", () => {
	const KEYS: Record<string, string> = {
		"tui.select.up": "UP",
		"tui.select.down": "DOWN",
		"tui.select.pageUp": "PGUP",
		"tui.select.pageDown": "PGDN",
		"tui.select.confirm": "\r",
		"tui.select.cancel": "\x1b",
	};
	const keys: SelectKeys = { matches: (data, id) => KEYS[id] === data };

	function panel(accounts: AccountSummary[], focus?: string) {
		const results: (AccountPanelAction | undefined)[] = [];
		const p = new AccountPanel(
			() => model(accounts),
			plain,
			keys,
			(r) => results.push(r),
			focus,
		);
		return { p, results, selected: () => p.getSelectedEmail() };
	}

	const many = Array.from({ length: 10 }, (_, i) => account(`user${i}@x.com`));

	it("moves with up/down and page up/page down, within bounds", () => {
		const { p, selected } = panel(many);
		p.handleInput("UP");
		expect(selected()).toBe("user0@x.com");
		p.handleInput("DOWN");
		expect(selected()).toBe("user1@x.com");
		p.handleInput("PGDN");
		expect(selected()).toBe(`user${1 + VISIBLE_ACCOUNTS}@x.com`);
		p.handleInput("PGDN");
		expect(selected()).toBe("user9@x.com");
		p.handleInput("PGUP");
		expect(selected()).toBe(`user${9 - VISIBLE_ACCOUNTS}@x.com`);
	});

	it("starts on the focused account", () => {
		expect(panel(many, "user5@x.com").selected()).toBe("user5@x.com");
		expect(panel(many, "gone@x.com").selected()).toBe("user0@x.com");
	});

	it.each([
		["\r", { action: "use", email: "user1@x.com" }],
		["u", { action: "refresh", email: "user1@x.com" }],
		["U", { action: "refresh", email: "user1@x.com" }],
		["r", { action: "reauth", email: "user1@x.com" }],
		["\x7f", { action: "remove", email: "user1@x.com" }],
		["n", { action: "add" }],
		["\x1b", undefined],
		["\x03", undefined],
	])("%j closes the panel with %j", (data, expected) => {
		const { p, results } = panel(many);
		p.handleInput("DOWN");
		p.handleInput(data);
		expect(results).toEqual([expected]);
	});

	it("ignores other keys", () => {
		const { p, results } = panel(many);
		p.handleInput("x");
		p.handleInput("?");
		expect(results).toEqual([]);
	});

	it("without accounts only adds or closes", () => {
		const { p, results } = panel([]);
		p.handleInput("\r");
		p.handleInput("u");
		p.handleInput("n");
		expect(results).toEqual([{ action: "add" }]);
	});

	it("keeps the selection inside a list that shrank", () => {
		let accounts = many;
		const p = new AccountPanel(
			() => model(accounts),
			plain,
			keys,
			() => {},
			"user9@x.com",
		);
		accounts = many.slice(0, 3);
		expect(p.render(120).at(-2)).toBe("selected: user2@x.com · 3/3");
	});
});
