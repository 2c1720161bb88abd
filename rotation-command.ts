// `/multicodex rotation`: the rotation policy in force, as text built from the settings. The
// TUI shows it in a settings panel that edits them (each change is saved at once and applies to
// the next request); every other mode (RPC, print, json) gets the summary and policy as one line.
import type { ExtensionCommandContext } from "@mariozechner/pi-coding-agent";
import { getSettingsListTheme } from "@mariozechner/pi-coding-agent";
import { Container, type SettingItem, SettingsList, Text } from "@mariozechner/pi-tui";
import {
	type CommandDeps,
	type CustomComponentFactory,
	closingSettingsListTheme,
	hasCustomUi,
	report,
	showCustom,
} from "./command-output.ts";
import { normalizeUnknownError } from "./provider-utils.ts";
import {
	describeRotationPolicy,
	formatRotationSummaryLine,
	isRotationSettingKey,
	ROTATION_STRATEGIES,
	type RotationSettings,
	saveRotationSettings,
} from "./rotation-settings.ts";

const RETRY_CHOICES = ["0", "1", "2", "3", "5", "8"];
const COOLDOWN_CHOICES = ["15m", "30m", "60m", "120m", "240m"];
const PROACTIVE_CHOICES = ["off", "70%", "80%", "90%", "95%"];

function withCurrent(choices: string[], current: string): string[] {
	return choices.includes(current) ? choices : [...choices, current];
}

function settingItems(settings: RotationSettings): SettingItem[] {
	const proactive =
		settings.proactiveSwitchPercent === undefined ? "off" : `${settings.proactiveSwitchPercent}%`;
	return [
		{
			id: "strategy",
			label: "Strategy",
			description: "How an account is chosen when one has to be",
			currentValue: settings.strategy,
			values: [...ROTATION_STRATEGIES],
		},
		{
			id: "preferUntouched",
			label: "Prefer untouched",
			description:
				"Use accounts with 0% used first (lowest-usage and earliest-reset only: round-robin and fill-first go by list order)",
			currentValue: settings.preferUntouched ? "on" : "off",
			values: ["on", "off"],
		},
		{
			id: "retryCount",
			label: "Retries",
			description: "How many other accounts a request may try after a quota answer",
			currentValue: String(settings.retryCount),
			values: withCurrent(RETRY_CHOICES, String(settings.retryCount)),
		},
		{
			id: "fallbackCooldownMinutes",
			label: "Fallback cooldown",
			description: "Cooldown when no reset time is known",
			currentValue: `${settings.fallbackCooldownMinutes}m`,
			values: withCurrent(COOLDOWN_CHOICES, `${settings.fallbackCooldownMinutes}m`),
		},
		{
			id: "proactiveSwitchPercent",
			label: "Proactive switch",
			description: "Leave the current account between turns at this used %",
			currentValue: proactive,
			values: withCurrent(PROACTIVE_CHOICES, proactive),
		},
	];
}

/** Pure: the settings after one edit from the panel (values as the panel shows them). */
export function applyRotationChange(
	settings: RotationSettings,
	id: string,
	value: string,
): RotationSettings {
	switch (id) {
		case "strategy":
			return (ROTATION_STRATEGIES as readonly string[]).includes(value)
				? { ...settings, strategy: value as RotationSettings["strategy"] }
				: settings;
		case "preferUntouched":
			return { ...settings, preferUntouched: value === "on" };
		case "retryCount":
			return { ...settings, retryCount: Number.parseInt(value, 10) };
		case "fallbackCooldownMinutes":
			return { ...settings, fallbackCooldownMinutes: Number.parseInt(value, 10) };
		case "proactiveSwitchPercent":
			return {
				...settings,
				proactiveSwitchPercent: value === "off" ? undefined : Number.parseInt(value, 10),
			};
		default:
			return settings;
	}
}

/**
 * Saves the one setting changed (merged with what other pi processes saved meanwhile, B7) and
 * puts the merged settings in force; if it could not be saved, the settings in force stay.
 */
function commit(
	ctx: ExtensionCommandContext,
	deps: CommandDeps,
	next: RotationSettings,
	changed: keyof RotationSettings,
): void {
	try {
		deps.accountManager.setRotationSettings(saveRotationSettings(next, [changed]));
	} catch (error) {
		report(
			ctx,
			`Multicodex: rotation settings not saved: ${normalizeUnknownError(error)}`,
			"error",
		);
	}
}

/** Shows the panel until it is closed; false when pi did not build it (no custom components). */
async function openRotationPanel(
	ctx: ExtensionCommandContext,
	deps: CommandDeps,
): Promise<boolean> {
	const inForce = () => deps.accountManager.getRotationSettings();
	const factory: CustomComponentFactory<undefined> = (_tui, theme, _keybindings, done) => {
		const container = new Container();
		container.addChild(new Text(theme.fg("accent", theme.bold("MultiCodex Rotation")), 1, 0));
		const policy = new Text(describeRotationPolicy(inForce()).join("\n"), 1, 0);
		container.addChild(policy);
		const list = new SettingsList(
			settingItems(inForce()),
			8,
			closingSettingsListTheme(getSettingsListTheme()),
			(id, value) => {
				const current = inForce();
				const next = applyRotationChange(current, id, value);
				if (next !== current && isRotationSettingKey(id)) commit(ctx, deps, next, id);
				// The panel shows what is in force: the merged settings, or the old ones if not saved.
				const settings = inForce();
				for (const item of settingItems(settings)) list.updateValue(item.id, item.currentValue);
				policy.setText(describeRotationPolicy(settings).join("\n"));
				container.invalidate();
			},
			() => done(undefined),
		);
		container.addChild(list);
		return {
			render: (width: number) => container.render(width),
			invalidate: () => container.invalidate(),
			handleInput: (data: string) => list.handleInput(data),
		};
	};
	return (await showCustom(ctx, factory)).shown;
}

export async function runRotation(ctx: ExtensionCommandContext, deps: CommandDeps): Promise<void> {
	if (hasCustomUi(ctx) && (await openRotationPanel(ctx, deps))) return;
	const settings = deps.accountManager.getRotationSettings();
	report(ctx, [formatRotationSummaryLine(settings), ...describeRotationPolicy(settings)].join(" "));
}
