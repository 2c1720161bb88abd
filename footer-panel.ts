// The footer settings panel of `/multicodex footer`: the five preferences in pi's searchable
// settings list with a live preview line. The real footer follows the draft while the panel is
// open, and every change is saved at once (B9). Where pi has no custom components (RPC) the
// caller prints the one-line summary instead.
import type { ExtensionCommandContext } from "@mariozechner/pi-coding-agent";
import { getSettingsListTheme } from "@mariozechner/pi-coding-agent";
import { Container, matchesKey, type SettingItem, SettingsList, Text } from "@mariozechner/pi-tui";
import {
	type CommandDeps,
	type CustomComponentFactory,
	closingSettingsListTheme,
	report,
	showCustom,
} from "./command-output.ts";
import {
	applyFooterSettingChange,
	FOOTER_SETTINGS,
	type FooterPreferences,
	footerSettingValue,
} from "./footer-settings.ts";
import { getAgentSettingsPath, normalizeUnknownError } from "./provider-utils.ts";

const TITLE = "MultiCodex Footer";

function settingItems(preferences: FooterPreferences): SettingItem[] {
	return FOOTER_SETTINGS.map((setting) => ({
		id: setting.id,
		label: setting.label,
		description: setting.description,
		currentValue: footerSettingValue(preferences, setting.id),
		values: [...setting.values],
	}));
}

/**
 * Applies one change: it is saved at once (only that preference, so what another pi process
 * saved meanwhile is kept) and the footer shows the preferences now in force; if it could not be
 * saved, the footer still shows the change.
 */
function applyChange(
	ctx: ExtensionCommandContext,
	deps: CommandDeps,
	draft: FooterPreferences,
	id: string,
	value: string,
): FooterPreferences {
	let next = applyFooterSettingChange(draft, id, value);
	const setting = FOOTER_SETTINGS.find((s) => s.id === id);
	if (setting && next !== draft) {
		try {
			deps.statusController.savePreferences(ctx, next, [setting.id]);
			next = deps.statusController.getPreferences();
		} catch (error) {
			report(ctx, `Footer setting not saved: ${normalizeUnknownError(error)}`, "error");
		}
	}
	deps.statusController.previewDraft(ctx, next);
	return next;
}

async function showSettingsPanel(ctx: ExtensionCommandContext, deps: CommandDeps) {
	let draft = deps.statusController.getPreferences();
	const factory: CustomComponentFactory<undefined> = (_tui, theme, _keybindings, done) => {
		const previewLine = () =>
			`${theme.fg("dim", "Preview")}: ${deps.statusController.formatPreview(theme, draft)}`;
		const container = new Container();
		container.addChild(new Text(theme.fg("accent", theme.bold(TITLE)), 1, 0));
		container.addChild(
			new Text(theme.fg("dim", `Each change is saved at once to ${getAgentSettingsPath()}`), 1, 0),
		);
		const preview = new Text(previewLine(), 1, 0);
		container.addChild(preview);
		const list = new SettingsList(
			settingItems(draft),
			FOOTER_SETTINGS.length,
			closingSettingsListTheme(getSettingsListTheme()),
			(id, value) => {
				draft = applyChange(ctx, deps, draft, id, value);
				for (const setting of FOOTER_SETTINGS) {
					list.updateValue(setting.id, footerSettingValue(draft, setting.id));
				}
				preview.setText(previewLine());
				container.invalidate();
			},
			() => done(undefined),
			{ enableSearch: true },
		);
		container.addChild(list);
		return {
			render: (width: number) => container.render(width),
			invalidate: () => container.invalidate(),
			handleInput: (data: string) => {
				if (matchesKey(data, "ctrl+c")) return done(undefined);
				list.handleInput(data);
			},
		};
	};
	return showCustom(ctx, factory);
}

/** Shows the panel until it is closed; false when pi did not build it (no custom components). */
export async function openFooterPanel(
	ctx: ExtensionCommandContext,
	deps: CommandDeps,
): Promise<boolean> {
	const { statusController } = deps;
	statusController.previewDraft(ctx, statusController.getPreferences());
	try {
		return (await showSettingsPanel(ctx, deps)).shown;
	} finally {
		statusController.previewDraft(ctx, undefined);
		void statusController.refreshFor(ctx);
	}
}
