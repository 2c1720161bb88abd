// `/multicodex rotation`: the rotation policy in force, as text built from the settings. The
// TUI shows it in a settings panel that edits them (each change is saved at once and applies to
// the next request); every other mode (RPC, print, json) gets the summary and policy as one line.
import type { ExtensionCommandContext } from "@mariozechner/pi-coding-agent";
import { getSettingsListTheme } from "@mariozechner/pi-coding-agent";
import { Container, type SettingItem, SettingsList, Text } from "@mariozechner/pi-tui";
import {
	type CommandDeps,
	type CustomComponentFactory,
	hasCustomUi,
	report,
	showCustom,
} from "./command-output.ts";
import { normalizeUnknownError } from "./provider-utils.ts";
import {
	describeRotationPolicy,
	formatRotationSummaryLine,
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
			description: "Use accounts with 0% used first",
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

function commit(ctx: ExtensionCommandContext, deps: CommandDeps, next: RotationSettings): void {
	try {
		saveRotationSettings(next);
		deps.accountManager.setRotationSettings(next);
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
	let draft = deps.accountManager.getRotationSettings();
	const factory: CustomComponentFactory<undefined> = (_tui, theme, _keybindings, done) => {
		const container = new Container();
		container.addChild(new Text(theme.fg("accent", theme.bold("MultiCodex Rotation")), 1, 0));
		const policy = new Text(describeRotationPolicy(draft).join("\n"), 1, 0);
		container.addChild(policy);
		const list = new SettingsList(
			settingItems(draft),
			8,
			getSettingsListTheme(),
			(id, value) => {
				draft = applyRotationChange(draft, id, value);
				commit(ctx, deps, draft);
				list.updateValue(id, value);
				policy.setText(describeRotationPolicy(draft).join("\n"));
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
