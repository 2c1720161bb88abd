// Rotation settings (B6) under `pi-multicodex.rotation` in pi's settings.json, and the policy
// text shown to users, built from the settings in force (one source of truth).
import { SETTINGS_KEY, updateMultiCodexSettings } from "./footer-settings.ts";
import {
	getAgentSettingsPath,
	isJsonObject,
	type JsonFileRead,
	readJsonObjectFile,
	readJsonObjectFileSync,
} from "./provider-utils.ts";
import { FileChangeWatch } from "./storage.ts";

export const ROTATION_STRATEGIES = [
	"lowest-usage",
	"earliest-reset",
	"round-robin",
	"fill-first",
] as const;
export type RotationStrategy = (typeof ROTATION_STRATEGIES)[number];

export interface RotationSettings {
	strategy: RotationStrategy;
	/** Prefer accounts with 0 % used in both windows (A3 step 2). */
	preferUntouched: boolean;
	/** Retries on other accounts after the first try (A5: 5). */
	retryCount: number;
	/** Cooldown when a quota answer names no reset and usage does not know one (A4: 60). */
	fallbackCooldownMinutes: number;
	/** Leave the current account between turns once its used % reaches this; undefined = off. */
	proactiveSwitchPercent?: number;
}

export const DEFAULT_ROTATION_SETTINGS: RotationSettings = {
	strategy: "lowest-usage",
	preferUntouched: true,
	retryCount: 5,
	fallbackCooldownMinutes: 60,
	proactiveSwitchPercent: 90,
};

const MAX_RETRY_COUNT = 20;

function integerIn(value: unknown, min: number, max: number): number | undefined {
	return typeof value === "number" && Number.isInteger(value) && value >= min && value <= max
		? value
		: undefined;
}

/** Each field that is missing or invalid falls back to its default on its own. */
export function normalizeRotationSettings(value: unknown): RotationSettings {
	const record = isJsonObject(value) ? value : {};
	const d = DEFAULT_ROTATION_SETTINGS;
	const proactive = record.proactiveSwitchPercent;
	return {
		strategy: ROTATION_STRATEGIES.includes(record.strategy as RotationStrategy)
			? (record.strategy as RotationStrategy)
			: d.strategy,
		preferUntouched:
			typeof record.preferUntouched === "boolean" ? record.preferUntouched : d.preferUntouched,
		retryCount: integerIn(record.retryCount, 0, MAX_RETRY_COUNT) ?? d.retryCount,
		fallbackCooldownMinutes:
			integerIn(record.fallbackCooldownMinutes, 1, 7 * 24 * 60) ?? d.fallbackCooldownMinutes,
		proactiveSwitchPercent:
			proactive === false || proactive === "off"
				? undefined
				: (integerIn(proactive, 1, 100) ?? d.proactiveSwitchPercent),
	};
}

function settingsFromRead(path: string, read: JsonFileRead): RotationSettings {
	if (read.kind === "damaged") throw new Error(`${path} is damaged (${read.reason})`);
	const ours = read.kind === "ok" ? read.value[SETTINGS_KEY] : undefined;
	return normalizeRotationSettings(isJsonObject(ours) ? ours.rotation : undefined);
}

export async function loadRotationSettings(
	path = getAgentSettingsPath(),
): Promise<RotationSettings> {
	return settingsFromRead(path, await readJsonObjectFile(path));
}

/**
 * The rotation settings as saved in settings.json, for a pi window that follows them (B7): once
 * read, one stat tells whether the file changed since (another window saved a setting), and only
 * then is it read again. The path is resolved at each look.
 */
export class RotationSettingsFile {
	private readonly watch: FileChangeWatch;

	constructor(private readonly pathOf: () => string = getAgentSettingsPath) {
		this.watch = new FileChangeWatch(pathOf);
	}

	/** Reads the settings now and remembers the version read; a damaged file throws. */
	read(): RotationSettings {
		// The version before the read: a change made meanwhile is seen (and read) next time.
		this.watch.markRead();
		const path = this.pathOf();
		return settingsFromRead(path, readJsonObjectFileSync(path));
	}

	/** Whether the file changed since it was last read (never read: there is nothing to follow). */
	hasChanged(): boolean {
		return this.watch.hasChanged();
	}
}

/** The settings, in the order the panel and the summary show them. */
export const ROTATION_SETTING_KEYS = [
	"strategy",
	"preferUntouched",
	"retryCount",
	"fallbackCooldownMinutes",
	"proactiveSwitchPercent",
] as const satisfies readonly (keyof RotationSettings)[];

export function isRotationSettingKey(id: string): id is keyof RotationSettings {
	return (ROTATION_SETTING_KEYS as readonly string[]).includes(id);
}

/** A setting as written to the file: proactive switching off is `"off"` (missing = default). */
function toSavedValue(settings: RotationSettings, key: keyof RotationSettings): unknown {
	return key === "proactiveSwitchPercent"
		? (settings.proactiveSwitchPercent ?? "off")
		: settings[key];
}

/**
 * Saves only the `changed` settings, merged under the file's lock into `rotation` as it is on
 * disk now (B7): what another pi process saved meanwhile, and keys this version does not know,
 * are kept. Returns the settings now in force, for the caller to apply.
 */
export function saveRotationSettings(
	settings: RotationSettings,
	changed: readonly (keyof RotationSettings)[],
	path = getAgentSettingsPath(),
): RotationSettings {
	const changes = Object.fromEntries(changed.map((key) => [key, toSavedValue(settings, key)]));
	const saved = updateMultiCodexSettings(
		(current) => ({
			...current,
			rotation: { ...(isJsonObject(current.rotation) ? current.rotation : {}), ...changes },
		}),
		path,
	);
	return normalizeRotationSettings(saved.rotation);
}

const STRATEGY_TEXT: Record<RotationStrategy, string> = {
	"lowest-usage":
		"the account with the lowest usage (the larger of its 5-hour and weekly used %, unknown counts as 100), ties by the earliest weekly reset",
	"earliest-reset": "the account whose weekly quota resets first (use it before it expires)",
	"round-robin":
		"the next account in list order after the current one; a new session starts after the account the last session used, so sessions take turns (a new session takes pi's own login only when no other account is usable: that login is never saved)",
	"fill-first": "the first available account in list order",
};

/** What fill-first's "first in list order" comes to with the threshold in force. */
function describeFillFirst(threshold: number | undefined): string {
	return threshold === undefined
		? "kept until it runs out, so one account is used up before the next"
		: `kept until it runs out or passes ${threshold}%`;
}

/**
 * Whether the strategy compares usage, so that untouched accounts can come first and, with no
 * usage known, the pick is random (selection.ts). Round-robin and fill-first go by list order.
 */
export function isUsageStrategy(strategy: RotationStrategy): boolean {
	return strategy === "lowest-usage" || strategy === "earliest-reset";
}

/** The "when it has to choose" sentence for the strategy in force. */
function describeChoice(settings: RotationSettings): string {
	const threshold = settings.proactiveSwitchPercent;
	const among =
		threshold === undefined
			? "When it has to choose:"
			: `When it has to choose, among the accounts below ${threshold}% when there are any:`;
	const strategy =
		settings.strategy === "fill-first"
			? `${STRATEGY_TEXT["fill-first"]}, ${describeFillFirst(threshold)}`
			: STRATEGY_TEXT[settings.strategy];
	if (!isUsageStrategy(settings.strategy)) {
		const untouched = settings.preferUntouched
			? ` (untouched accounts get no preference under ${settings.strategy})`
			: "";
		return `${among} ${strategy}${untouched}.`;
	}
	const untouched = settings.preferUntouched ? "an untouched account (0% used) first, then " : "";
	return `${among} ${untouched}${strategy}; with no usage known, a random available account, chosen again once at the next turn if usage has arrived by then.`;
}

/** The policy in force, in plain words: what `/multicodex rotation` shows. */
export function describeRotationPolicy(settings: RotationSettings): string[] {
	const proactive =
		settings.proactiveSwitchPercent === undefined
			? "Proactive switching is off: the current account is kept until it is out of quota."
			: `It moves on between turns once the current account has used ${settings.proactiveSwitchPercent}% of a window, if another account is below that.`;
	return [
		"Your manual pick (/multicodex use) comes first while it is available.",
		`Otherwise Multicodex keeps the current account between turns (so the prompt cache stays warm). ${proactive}`,
		describeChoice(settings),
		`A quota answer before any output switches account at once and retries, up to ${settings.retryCount} retr${settings.retryCount === 1 ? "y" : "ies"}; no switching once the answer has started.`,
		`Cooldown: until the reset the answer names, else the reset known from usage, else ${settings.fallbackCooldownMinutes} min; a plain rate limit waits for its retry-after, else 1 min. An account whose plan has no Codex is flagged and not used until it is logged in again (/multicodex reauth <id>) or /multicodex reset quota.`,
		"When you are logged in to pi with /login openai-codex, that login takes part in rotation too and is never written to the accounts file.",
	];
}

export function formatRotationSummaryLine(settings: RotationSettings): string {
	return `rotation: strategy=${settings.strategy} preferUntouched=${settings.preferUntouched ? "on" : "off"} retries=${settings.retryCount} fallbackCooldown=${settings.fallbackCooldownMinutes}m proactiveSwitch=${settings.proactiveSwitchPercent === undefined ? "off" : `${settings.proactiveSwitchPercent}%`}`;
}
