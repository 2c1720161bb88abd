// Footer preferences under the `pi-multicodex` key of pi's settings.json. Each field falls back
// to its default on its own; saving writes only the fields changed, merged into our key as it is
// on disk under pi's own settings lock, and leaves every other key exactly as it was.
import { withFileLockSync } from "./file-lock.ts";
import {
	getAgentSettingsPath,
	isJsonObject,
	type JsonFileRead,
	type JsonObject,
	readJsonObjectFile,
	readJsonObjectFileSync,
} from "./provider-utils.ts";
import { writePrivateFileAtomic } from "./storage.ts";

export const SETTINGS_KEY = "pi-multicodex";

export type PercentDisplayMode = "left" | "used";
export type ResetWindowMode = "5h" | "7d" | "both";
export type StatusOrder = "account-first" | "usage-first";

export interface FooterPreferences {
	usageMode: PercentDisplayMode;
	resetWindow: ResetWindowMode;
	showAccount: boolean;
	showReset: boolean;
	order: StatusOrder;
}

export const DEFAULT_FOOTER_PREFERENCES: FooterPreferences = {
	usageMode: "left",
	resetWindow: "7d",
	showAccount: true,
	showReset: true,
	order: "account-first",
};

function oneOf<T extends string>(value: unknown, allowed: readonly T[], fallback: T): T {
	return allowed.includes(value as T) ? (value as T) : fallback;
}

function booleanOr(value: unknown, fallback: boolean): boolean {
	return typeof value === "boolean" ? value : fallback;
}

export function normalizeFooterPreferences(value: unknown): FooterPreferences {
	const record = isJsonObject(value) ? value : {};
	const d = DEFAULT_FOOTER_PREFERENCES;
	return {
		usageMode: oneOf(record.usageMode, ["left", "used"], d.usageMode),
		resetWindow: oneOf(record.resetWindow, ["5h", "7d", "both"], d.resetWindow),
		showAccount: booleanOr(record.showAccount, d.showAccount),
		showReset: booleanOr(record.showReset, d.showReset),
		order: oneOf(record.order, ["account-first", "usage-first"], d.order),
	};
}

/** Reads our key of settings.json; a missing file means defaults, a damaged one is an error. */
export async function loadFooterPreferences(
	path = getAgentSettingsPath(),
): Promise<FooterPreferences> {
	return footerPreferencesFrom(await readJsonObjectFile(path), path);
}

/** The same as loadFooterPreferences, synchronously: for a re-read on the render path. */
export function loadFooterPreferencesSync(path = getAgentSettingsPath()): FooterPreferences {
	return footerPreferencesFrom(readJsonObjectFileSync(path), path);
}

function footerPreferencesFrom(read: JsonFileRead, path: string): FooterPreferences {
	if (read.kind === "damaged") throw new Error(`${path} is damaged (${read.reason})`);
	return normalizeFooterPreferences(read.kind === "ok" ? read.value[SETTINGS_KEY] : undefined);
}

/**
 * Applies `update` to our key of settings.json under the file's lock, on fresh data, and returns
 * our key as written. Refuses to write over a settings file it cannot parse (that would lose
 * pi's settings).
 */
export function updateMultiCodexSettings(
	update: (current: JsonObject) => JsonObject,
	path = getAgentSettingsPath(),
): JsonObject {
	return withFileLockSync(path, () => {
		const read = readJsonObjectFileSync(path);
		if (read.kind === "damaged") {
			throw new Error(
				`${path} is damaged (${read.reason}); not saving, so pi's settings are not lost. Fix the file and try again.`,
			);
		}
		const settings: JsonObject = read.kind === "ok" ? read.value : {};
		const ours = update(isJsonObject(settings[SETTINGS_KEY]) ? settings[SETTINGS_KEY] : {});
		settings[SETTINGS_KEY] = ours;
		writePrivateFileAtomic(path, `${JSON.stringify(settings, null, 2)}\n`);
		return ours;
	});
}

/** Merges `changes` into our key of settings.json (see updateMultiCodexSettings). */
export function saveMultiCodexSettings(
	changes: JsonObject,
	path = getAgentSettingsPath(),
): JsonObject {
	return updateMultiCodexSettings((current) => ({ ...current, ...changes }), path);
}

/**
 * Saves only the `changed` preferences, merged into the file as it is now (B7): another pi
 * process's change to the others is kept. Returns the preferences now in force.
 */
export function saveFooterPreferences(
	preferences: FooterPreferences,
	changed: readonly (keyof FooterPreferences)[],
	path = getAgentSettingsPath(),
): FooterPreferences {
	const changes = Object.fromEntries(changed.map((id) => [id, preferences[id]]));
	return normalizeFooterPreferences(saveMultiCodexSettings(changes, path));
}

/** Saves all five preferences. */
export function persistFooterPreferences(
	preferences: FooterPreferences,
	path = getAgentSettingsPath(),
): FooterPreferences {
	return saveFooterPreferences(preferences, FOOTER_PREFERENCE_KEYS, path);
}

/** One footer preference as the settings panel shows it. */
export interface FooterSettingDefinition {
	id: keyof FooterPreferences;
	label: string;
	description: string;
	values: string[];
}

export const FOOTER_SETTINGS: readonly FooterSettingDefinition[] = [
	{
		id: "usageMode",
		label: "Usage display",
		description: "Show remaining or consumed quota percentages",
		values: ["left", "used"],
	},
	{
		id: "resetWindow",
		label: "Reset countdown window",
		description: "Show the countdown of the 5h window, the 7d window, or both",
		values: ["5h", "7d", "both"],
	},
	{
		id: "showAccount",
		label: "Show account",
		description: "Show the active account identifier in the footer",
		values: ["on", "off"],
	},
	{
		id: "showReset",
		label: "Show reset countdown",
		description: "Show when the quota window resets",
		values: ["on", "off"],
	},
	{
		id: "order",
		label: "Footer order",
		description: "Show the account before or after the usage",
		values: ["account-first", "usage-first"],
	},
];

export const FOOTER_PREFERENCE_KEYS = FOOTER_SETTINGS.map((setting) => setting.id);

/** The value of a preference as the panel and the one-line summary show it (`on`/`off`). */
export function footerSettingValue(preferences: FooterPreferences, id: keyof FooterPreferences) {
	const value = preferences[id];
	if (typeof value === "boolean") return value ? "on" : "off";
	return value;
}

/** Applies one change from the panel; an unknown id or value leaves the preferences as they are. */
export function applyFooterSettingChange(
	preferences: FooterPreferences,
	id: string,
	value: string,
): FooterPreferences {
	const setting = FOOTER_SETTINGS.find((s) => s.id === id);
	if (!setting?.values.includes(value)) return preferences;
	const next = typeof preferences[setting.id] === "boolean" ? value === "on" : value;
	return normalizeFooterPreferences({ ...preferences, [setting.id]: next });
}

/** `footer: usageMode=… resetWindow=… showAccount=on|off showReset=on|off order=…` */
export function formatFooterPreferencesLine(preferences: FooterPreferences): string {
	return `footer: ${FOOTER_SETTINGS.map((s) => `${s.id}=${footerSettingValue(preferences, s.id)}`).join(" ")}`;
}
