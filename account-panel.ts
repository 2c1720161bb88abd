// The account panel of `/multicodex accounts` (a pi custom component): every account with its
// tags and its 5 h and 7 d usage as bars with reset countdowns, a scrolling window, and the
// keys to use, refresh, re-login, add and remove accounts. Rendering is a pure function.
import { matchesKey, truncateToWidth, visibleWidth } from "@mariozechner/pi-tui";
import type { AccountManager } from "./account-manager.ts";
import { type AccountSummary, formatAccountCounts, formatUsageBar } from "./account-status.ts";
import { type CustomComponentFactory, showCustom } from "./command-output.ts";
import type { PercentDisplayMode } from "./footer-settings.ts";
import {
	formatResetCountdown,
	severityColor,
	type ThemeColor,
	toDisplayPercent,
} from "./status.ts";
import type { CodexUsageSnapshot } from "./usage.ts";

export type AccountPanelAction =
	| { action: "use"; email: string }
	| { action: "refresh"; email: string }
	| { action: "reauth"; email: string }
	| { action: "remove"; email: string }
	| { action: "add" };

export interface AccountPanelModel {
	accounts: AccountSummary[];
	usageMode: PercentDisplayMode;
	now: number;
}

type PanelColor = ThemeColor | "accent" | "border";

/** The part of pi's theme the panel uses (a fake one in tests). */
export interface PanelTheme {
	fg(color: PanelColor, text: string): string;
	bold(text: string): string;
}

type SelectKeybinding =
	| "tui.select.up"
	| "tui.select.down"
	| "tui.select.pageUp"
	| "tui.select.pageDown"
	| "tui.select.confirm"
	| "tui.select.cancel";

/** The part of pi's keybindings manager the panel uses. */
export interface SelectKeys {
	matches(data: string, keybinding: SelectKeybinding): boolean;
}

/** Accounts shown at once; each takes two lines. */
export const VISIBLE_ACCOUNTS = 6;
const BAR_WIDTH = 10;
/** The widest percentage (`100% left`) and two spaces before the countdown. */
const PERCENT_WIDTH = "100% left".length + 1;
const KEY_HINTS: [string, string][] = [
	["enter", "use"],
	["u", "refresh"],
	["r", "reauth"],
	["n", "add"],
	["backspace", "remove"],
	["esc", "close"],
];

const TAG_COLORS: Record<string, PanelColor> = {
	active: "accent",
	manual: "warning",
	"pi auth": "success",
	"needs reauth": "error",
	"no codex": "error",
	placeholder: "warning",
	quota: "warning",
	untouched: "success",
};

/** First index of the window of `size` rows that keeps `selected` in view, centred if possible. */
export function windowStart(selected: number, total: number, size: number): number {
	if (total <= size) return 0;
	return Math.max(0, Math.min(selected - Math.floor(size / 2), total - size));
}

function formatWindow(
	theme: PanelTheme,
	label: string,
	window: { usedPercent?: number; resetAt?: number } | undefined,
	mode: PercentDisplayMode,
	now: number,
	isLast: boolean,
): string {
	const display = toDisplayPercent(window?.usedPercent, mode);
	const color = severityColor(display, mode);
	const percent = display === undefined ? "--" : `${display}% ${mode}`;
	const countdown = formatResetCountdown(window?.resetAt, now);
	const parts = [
		theme.fg("muted", label),
		theme.fg(color, formatUsageBar(display, BAR_WIDTH)),
		theme.fg(color, isLast && !countdown ? percent : percent.padEnd(PERCENT_WIDTH)),
	];
	if (countdown) parts.push(theme.fg("dim", isLast ? `↺${countdown}` : `↺${countdown}`.padEnd(7)));
	else if (!isLast) parts.push(" ".repeat(7));
	return parts.join(" ");
}

/** `5h ▕█████████░▏ 90% left   ↺58m      7d ▕██████████▏ 100% used  ↺2d23h` */
export function formatUsageBars(
	theme: PanelTheme,
	usage: CodexUsageSnapshot | undefined,
	mode: PercentDisplayMode,
	now: number,
): string {
	return [
		formatWindow(theme, "5h", usage?.primary, mode, now, false),
		formatWindow(theme, "7d", usage?.secondary, mode, now, true),
	].join("   ");
}

function renderHeader(theme: PanelTheme, width: number): string[] {
	const title = theme.bold("MultiCodex Accounts");
	const hints = KEY_HINTS.map(([key, action]) => `${theme.fg("dim", key)} ${action}`).join(
		theme.fg("muted", " · "),
	);
	const gap = width - visibleWidth(title) - visibleWidth(hints);
	if (gap >= 2) return [`${title}${" ".repeat(gap)}${hints}`];
	return [truncateToWidth(title, width, ""), truncateToWidth(hints, width, "")];
}

function renderRow(
	theme: PanelTheme,
	account: AccountSummary,
	isSelected: boolean,
	model: AccountPanelModel,
	width: number,
): string[] {
	const cursor = isSelected ? theme.fg("accent", ">") : " ";
	const name = isSelected ? theme.bold(account.email) : account.email;
	const tags = account.tags.map((tag) => theme.fg(TAG_COLORS[tag] ?? "muted", `[${tag}]`));
	const first = [`${cursor} ${name}`, ...tags].join(" ");
	const second = `    ${formatUsageBars(theme, account.usage, model.usageMode, model.now)}`;
	return [truncateToWidth(first, width, ""), truncateToWidth(second, width, "")];
}

function describeSelected(account: AccountSummary): string {
	if (account.needsReauth) return `selected: ${account.email} · needs a new login, press r`;
	if (account.codexNotIncluded) {
		return `selected: ${account.email} · its plan has no Codex, press r to log in again`;
	}
	if (account.isPlaceholder) {
		return `selected: ${account.email} · restored placeholder, re-auth required`;
	}
	return `selected: ${account.email}`;
}

export function renderAccountPanel(
	model: AccountPanelModel,
	selected: number,
	width: number,
	theme: PanelTheme,
): string[] {
	const border = theme.fg("border", "─".repeat(Math.max(1, width)));
	const lines = [border, ...renderHeader(theme, width)];
	lines.push(truncateToWidth(theme.fg("muted", formatAccountCounts(model.accounts)), width, ""));
	lines.push("");
	const total = model.accounts.length;
	if (total === 0) {
		lines.push(theme.fg("muted", "  No accounts yet: press n to add one"), "", border);
		return lines;
	}
	const start = windowStart(selected, total, VISIBLE_ACCOUNTS);
	const end = Math.min(total, start + VISIBLE_ACCOUNTS);
	if (start > 0) lines.push(theme.fg("dim", `  ↑ ${start} more`));
	for (let index = start; index < end; index++) {
		const account = model.accounts[index];
		if (account) lines.push(...renderRow(theme, account, index === selected, model, width));
	}
	if (end < total) lines.push(theme.fg("dim", `  ↓ ${total - end} more`));
	lines.push("");
	const current = model.accounts[selected];
	if (current) {
		const position = `${selected + 1}/${total}`;
		lines.push(
			truncateToWidth(theme.fg("dim", `${describeSelected(current)} · ${position}`), width),
		);
	}
	lines.push(border);
	return lines;
}

/** A plain letter key, either case (raw or in the kitty keyboard protocol). */
function isLetter(data: string, letter: "n" | "u" | "r"): boolean {
	return (
		data.toLowerCase() === letter || matchesKey(data, letter) || matchesKey(data, `shift+${letter}`)
	);
}

/** The panel component: state is the selected row; data comes fresh from `getModel` on render. */
export class AccountPanel {
	private selected = 0;

	constructor(
		private readonly getModel: () => AccountPanelModel,
		private readonly theme: PanelTheme,
		private readonly keys: SelectKeys,
		private readonly done: (action: AccountPanelAction | undefined) => void,
		focusEmail?: string,
	) {
		const index = getModel().accounts.findIndex((a) => a.email === focusEmail);
		this.selected = Math.max(0, index);
	}

	getSelectedEmail(): string | undefined {
		const accounts = this.getModel().accounts;
		return accounts[Math.min(this.selected, accounts.length - 1)]?.email;
	}

	render(width: number): string[] {
		const model = this.getModel();
		this.selected = Math.max(0, Math.min(this.selected, model.accounts.length - 1));
		return renderAccountPanel(model, this.selected, width, this.theme);
	}

	invalidate(): void {}

	private move(delta: number): void {
		const last = this.getModel().accounts.length - 1;
		this.selected = Math.max(0, Math.min(last, this.selected + delta));
	}

	private stepFor(data: string): number | undefined {
		if (this.keys.matches(data, "tui.select.up")) return -1;
		if (this.keys.matches(data, "tui.select.down")) return 1;
		if (this.keys.matches(data, "tui.select.pageUp")) return -VISIBLE_ACCOUNTS;
		if (this.keys.matches(data, "tui.select.pageDown")) return VISIBLE_ACCOUNTS;
		return undefined;
	}

	private actionFor(data: string): AccountPanelAction | undefined {
		if (isLetter(data, "n")) return { action: "add" };
		const email = this.getSelectedEmail();
		if (!email) return undefined;
		if (this.keys.matches(data, "tui.select.confirm")) return { action: "use", email };
		if (isLetter(data, "u")) return { action: "refresh", email };
		if (isLetter(data, "r")) return { action: "reauth", email };
		if (matchesKey(data, "backspace")) return { action: "remove", email };
		return undefined;
	}

	handleInput(data: string): void {
		const step = this.stepFor(data);
		if (step !== undefined) {
			this.move(step);
			return;
		}
		if (this.keys.matches(data, "tui.select.cancel") || matchesKey(data, "ctrl+c")) {
			this.done(undefined);
			return;
		}
		const action = this.actionFor(data);
		if (action) this.done(action);
	}
}

/**
 * Opens the panel and waits for the chosen action (undefined when closed). `shown` is false
 * where pi has no custom components (RPC mode): the caller then prints the status lines.
 */
export async function openAccountPanel(
	ctx: Parameters<typeof showCustom>[0],
	accountManager: AccountManager,
	getModel: () => AccountPanelModel,
	focusEmail?: string,
) {
	let unsubscribe: (() => void) | undefined;
	const factory: CustomComponentFactory<AccountPanelAction | undefined> = (
		tui,
		theme,
		keybindings,
		done,
	) => {
		const panel = new AccountPanel(getModel, theme, keybindings, done, focusEmail);
		// Usage that arrives while the panel is open (background refresh) shows at once.
		unsubscribe = accountManager.onStateChange(() => tui.requestRender());
		return {
			render: (width: number) => panel.render(width),
			invalidate: () => panel.invalidate(),
			handleInput: (data: string) => {
				panel.handleInput(data);
				tui.requestRender();
			},
			dispose: () => unsubscribe?.(),
		};
	};
	try {
		return await showCustom(ctx, factory);
	} finally {
		unsubscribe?.();
	}
}
