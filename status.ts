// The footer (pi status bar, key `multicodex-usage`): formatting of the active account and its
// quota, and the controller that keeps it current without overlapping refreshes and without
// touching a pi context after its session was replaced.
import type { Api, Model } from "@mariozechner/pi-ai";
import type { ExtensionContext } from "@mariozechner/pi-coding-agent";
import type { AccountManager } from "./account-manager.ts";
import {
	DEFAULT_FOOTER_PREFERENCES,
	FOOTER_PREFERENCE_KEYS,
	type FooterPreferences,
	loadFooterPreferences,
	loadFooterPreferencesSync,
	type PercentDisplayMode,
	type ResetWindowMode,
	saveFooterPreferences,
} from "./footer-settings.ts";
import { getAgentSettingsPath, normalizeUnknownError } from "./provider-utils.ts";
import { FileChangeWatch } from "./storage.ts";
import type { CodexUsageSnapshot } from "./usage.ts";

export const STATUS_KEY = "multicodex-usage";
const PROVIDER_ID = "openai-codex";
const REFRESH_INTERVAL_MS = 60_000;
const MODEL_SELECT_REFRESH_DEBOUNCE_MS = 250;
const UNKNOWN_PERCENT = "--";
const SEPARATOR = "·";

export type ThemeColor =
	| "muted"
	| "dim"
	| "text"
	| "success"
	| "thinkingMedium"
	| "warning"
	| "error";

/** The part of pi's theme the footer needs (so formatting is testable without pi). */
export interface FooterTheme {
	fg(color: ThemeColor, text: string): string;
}

type ThemeSource = { ui: { theme: unknown } } | FooterTheme;

/** pi 1.x hands out its theme as a Proxy without a `has` trap: ask for `fg`, not `"fg" in`. */
function themeOf(source: ThemeSource): FooterTheme {
	const fg = (source as Partial<FooterTheme>).fg;
	return typeof fg === "function"
		? (source as FooterTheme)
		: ((source as { ui: { theme: unknown } }).ui.theme as FooterTheme);
}

export function isManagedModel(model: Model<Api> | undefined): boolean {
	return model?.provider === PROVIDER_ID;
}

function clampPercent(value: number): number {
	return Math.min(100, Math.max(0, value));
}

/** The whole percentage shown (used or left); its colour is chosen from the same number. */
export function toDisplayPercent(
	usedPercent: number | undefined,
	mode: PercentDisplayMode,
): number | undefined {
	if (typeof usedPercent !== "number" || Number.isNaN(usedPercent)) return undefined;
	return Math.round(mode === "left" ? clampPercent(100 - usedPercent) : clampPercent(usedPercent));
}

export function severityColor(
	displayPercent: number | undefined,
	mode: PercentDisplayMode,
): ThemeColor {
	if (displayPercent === undefined) return "dim";
	if (mode === "left") {
		if (displayPercent <= 10) return "error";
		if (displayPercent <= 25) return "warning";
		if (displayPercent <= 50) return "thinkingMedium";
		return "success";
	}
	if (displayPercent >= 90) return "error";
	if (displayPercent >= 75) return "warning";
	if (displayPercent >= 50) return "thinkingMedium";
	return "success";
}

/** `XdYh`, `XhYm`, `Xm` or `Xs`. */
export function formatResetCountdown(
	resetAt: number | undefined,
	now = Date.now(),
): string | undefined {
	if (typeof resetAt !== "number" || Number.isNaN(resetAt)) return undefined;
	const totalSeconds = Math.max(0, Math.round((resetAt - now) / 1000));
	const days = Math.floor(totalSeconds / 86_400);
	const hours = Math.floor((totalSeconds % 86_400) / 3_600);
	const minutes = Math.floor((totalSeconds % 3_600) / 60);
	if (days > 0) return `${days}d${hours}h`;
	if (hours > 0) return `${hours}h${minutes}m`;
	if (minutes > 0) return `${minutes}m`;
	return `${totalSeconds % 60}s`;
}

function showsReset(
	preferences: FooterPreferences,
	window: Exclude<ResetWindowMode, "both">,
): boolean {
	return (
		preferences.showReset &&
		(preferences.resetWindow === "both" || preferences.resetWindow === window)
	);
}

function formatSegment(
	theme: FooterTheme,
	label: string,
	window: { usedPercent?: number; resetAt?: number } | undefined,
	showReset: boolean,
	preferences: FooterPreferences,
	now: number,
): string {
	const display = toDisplayPercent(window?.usedPercent, preferences.usageMode);
	let text = `${label}${display === undefined ? UNKNOWN_PERCENT : `${display}% ${preferences.usageMode}`}`;
	const countdown = showReset ? formatResetCountdown(window?.resetAt, now) : undefined;
	if (countdown) text += ` (↺${countdown})`;
	return theme.fg(severityColor(display, preferences.usageMode), text);
}

/** The longest identifier the footer shows whole; longer ones lose their middle. */
export const FOOTER_IDENTIFIER_MAX = 32;
const ELLIPSIS = "…";

/**
 * The identifier as the footer shows it: whole up to `max` characters, else its start, `…` and
 * its end, so the quota stays in view at 80 columns. The end keeps the whole `@domain` when that
 * is short, else the domain's end (`firstname.middle…ame.example.com`). Only the footer shortens.
 */
export function shortenIdentifier(identifier: string, max = FOOTER_IDENTIFIER_MAX): string {
	const chars = Array.from(identifier);
	if (chars.length <= max) return identifier;
	const budget = max - 1;
	const at = chars.lastIndexOf("@");
	const domainLength = at < 0 ? 0 : chars.length - at;
	const half = Math.floor(budget / 2);
	const tailLength = domainLength > 0 && domainLength <= half ? domainLength : half;
	const headLength = budget - tailLength;
	return `${chars.slice(0, headLength).join("")}${ELLIPSIS}${chars.slice(-tailLength).join("")}`;
}

export function formatActiveAccountStatus(
	source: ThemeSource,
	accountEmail: string,
	usage: CodexUsageSnapshot | undefined,
	preferences: FooterPreferences = DEFAULT_FOOTER_PREFERENCES,
	now = Date.now(),
): string {
	const theme = themeOf(source);
	const brand = theme.fg("muted", "Codex");
	const account = preferences.showAccount
		? theme.fg("text", shortenIdentifier(accountEmail))
		: undefined;
	if (!usage) {
		return [brand, account, theme.fg("muted", "loading...")].filter(Boolean).join(" ");
	}
	const fiveHour = formatSegment(
		theme,
		"5h:",
		usage.primary,
		showsReset(preferences, "5h"),
		preferences,
		now,
	);
	const sevenDay = formatSegment(
		theme,
		"7d:",
		usage.secondary,
		showsReset(preferences, "7d"),
		preferences,
		now,
	);
	const parts =
		preferences.order === "account-first"
			? [brand, account, fiveHour, sevenDay]
			: [brand, fiveHour, sevenDay, account];
	return parts.filter(Boolean).join(` ${theme.fg("muted", SEPARATOR)} `);
}

export function formatNoActiveAccount(source: ThemeSource): string {
	return themeOf(source).fg("warning", "Multicodex no active account");
}

export type UsageStatusController = ReturnType<typeof createUsageStatusController>;

export function createUsageStatusController(accountManager: AccountManager) {
	let refreshTimer: ReturnType<typeof setInterval> | undefined;
	let modelSelectTimer: ReturnType<typeof setTimeout> | undefined;
	let activeContext: ExtensionContext | undefined;
	let refreshInFlight = false;
	let queuedRefresh = false;
	let preferences: FooterPreferences = DEFAULT_FOOTER_PREFERENCES;
	let previewPreferences: FooterPreferences | undefined;
	/** settings.json as last read: another pi window's change is picked up before rendering. */
	const settingsFile = new FileChangeWatch(getAgentSettingsPath);

	/** Any ctx call may throw once pi replaced the session: then we simply let go of it. */
	function withContext(
		ctx: ExtensionContext | undefined,
		action: (ctx: ExtensionContext) => void,
	): void {
		if (!ctx) return;
		try {
			action(ctx);
		} catch {
			if (activeContext === ctx) activeContext = undefined;
		}
	}

	/**
	 * Re-reads the preferences when settings.json changed on disk since they were read (one
	 * `stat` otherwise), so a change saved in another pi window shows without a restart.
	 */
	function reloadPreferencesIfChanged(): void {
		if (!settingsFile.hasChanged()) return;
		settingsFile.markRead();
		try {
			preferences = loadFooterPreferencesSync();
		} catch (error) {
			// Kept as they were; said once per change of the file.
			accountManager.warn(
				`Multicodex: footer settings not reloaded: ${normalizeUnknownError(error)}`,
			);
		}
	}

	function savedPreferences(): FooterPreferences {
		reloadPreferencesIfChanged();
		return preferences;
	}

	function currentPreferences(): FooterPreferences {
		return previewPreferences ?? savedPreferences();
	}

	function getStatusText(ctx: ExtensionContext, override?: FooterPreferences): string | undefined {
		if (!ctx.hasUI || !isManagedModel(ctx.model)) return undefined;
		const active = accountManager.getActiveAccount();
		if (!active) return formatNoActiveAccount(ctx);
		return formatActiveAccountStatus(
			ctx,
			active.email,
			accountManager.getCachedUsage(active.email),
			override ?? currentPreferences(),
		);
	}

	function renderCachedStatus(
		ctx: ExtensionContext | undefined,
		override?: FooterPreferences,
	): void {
		withContext(ctx, (c) => {
			if (!c.hasUI) return;
			c.ui.setStatus(STATUS_KEY, getStatusText(c, override));
		});
	}

	accountManager.onStateChange(() => renderCachedStatus(activeContext));

	async function updateStatus(ctx: ExtensionContext): Promise<void> {
		renderCachedStatus(ctx);
		const active = accountManager.getActiveAccount();
		if (!active || activeContext !== ctx) return;
		let isManaged = false;
		withContext(ctx, (c) => {
			isManaged = c.hasUI && isManagedModel(c.model);
		});
		if (!isManaged) return;
		await accountManager.refreshUsageForAccount(active);
		if (activeContext === ctx) renderCachedStatus(ctx);
	}

	async function refreshFor(ctx: ExtensionContext): Promise<void> {
		activeContext = ctx;
		if (refreshInFlight) {
			queuedRefresh = true;
			return;
		}
		refreshInFlight = true;
		try {
			await updateStatus(ctx);
		} catch (error) {
			accountManager.warn(`Multicodex: footer refresh failed: ${normalizeUnknownError(error)}`);
		} finally {
			refreshInFlight = false;
			if (queuedRefresh && activeContext) {
				queuedRefresh = false;
				void refreshFor(activeContext);
			}
		}
	}

	function scheduleModelSelectRefresh(ctx: ExtensionContext): void {
		activeContext = ctx;
		renderCachedStatus(ctx);
		if (modelSelectTimer) clearTimeout(modelSelectTimer);
		modelSelectTimer = setTimeout(() => {
			modelSelectTimer = undefined;
			if (activeContext) void refreshFor(activeContext);
		}, MODEL_SELECT_REFRESH_DEBOUNCE_MS);
		modelSelectTimer.unref?.();
	}

	function startAutoRefresh(): void {
		if (refreshTimer) clearInterval(refreshTimer);
		refreshTimer = setInterval(() => {
			if (activeContext) void refreshFor(activeContext);
		}, REFRESH_INTERVAL_MS);
		refreshTimer.unref?.();
	}

	/** Stops every timer and forgets the context; clears the footer while the ctx is live. */
	function stopAutoRefresh(ctx?: ExtensionContext): void {
		if (refreshTimer) clearInterval(refreshTimer);
		if (modelSelectTimer) clearTimeout(modelSelectTimer);
		refreshTimer = undefined;
		modelSelectTimer = undefined;
		previewPreferences = undefined;
		queuedRefresh = false;
		withContext(ctx ?? activeContext, (c) => {
			if (c.hasUI) c.ui.setStatus(STATUS_KEY, undefined);
		});
		activeContext = undefined;
	}

	async function loadPreferences(ctx?: ExtensionContext): Promise<void> {
		settingsFile.markRead();
		try {
			preferences = await loadFooterPreferences();
		} catch (error) {
			preferences = DEFAULT_FOOTER_PREFERENCES;
			const message = `Multicodex: footer settings not loaded: ${normalizeUnknownError(error)}`;
			// Print and json runs have no UI to notify: their lines go to stderr (B12).
			if (ctx && !ctx.hasUI) process.stderr.write(`${message}\n`);
			else withContext(ctx, (c) => c.ui.notify(message, "warning"));
		}
	}

	/** Shows a draft in the real footer while the settings panel is open. */
	function previewDraft(ctx: ExtensionContext, draft: FooterPreferences | undefined): void {
		previewPreferences = draft;
		renderCachedStatus(ctx);
	}

	/**
	 * Saves the `changed` preferences of `next` at once (B9), merged into settings.json as it is
	 * now so another pi's change to the others is kept (B7), and shows the merged result; throws
	 * (keeping the old ones) if not saved.
	 */
	function savePreferences(
		ctx: ExtensionContext,
		next: FooterPreferences,
		changed: readonly (keyof FooterPreferences)[] = FOOTER_PREFERENCE_KEYS,
	): void {
		preferences = saveFooterPreferences(next, changed);
		renderCachedStatus(ctx);
	}

	/** The footer text for `draft` whatever the current model: the settings panel's preview. */
	function formatPreview(source: ThemeSource, draft: FooterPreferences): string {
		const active = accountManager.getActiveAccount();
		if (!active) return formatNoActiveAccount(source);
		return formatActiveAccountStatus(
			source,
			active.email,
			accountManager.getCachedUsage(active.email),
			draft,
		);
	}

	return {
		loadPreferences,
		refreshFor,
		renderCachedStatus,
		scheduleModelSelectRefresh,
		startAutoRefresh,
		stopAutoRefresh,
		previewDraft,
		savePreferences,
		formatPreview,
		getStatusText,
		getPreferences: savedPreferences,
	};
}
