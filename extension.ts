// Wiring: one default-exported factory that connects the account manager, the provider, the
// footer, the commands and the session life cycle. It holds no logic of its own.
import type { ExtensionAPI, ExtensionContext } from "@mariozechner/pi-coding-agent";
import { AccountManager, createProcessState, type ProcessState } from "./account-manager.ts";
import { registerCommands } from "./commands.ts";
import {
	keepOrClearManualPin,
	prepareAccounts,
	refreshAndActivateBestAccount,
	warnAboutReauth,
} from "./hooks.ts";
import type { createPiLoginGuard } from "./pi-login-guard.ts";
import { buildMulticodexProviderConfig, PROVIDER_ID } from "./provider.ts";
import { normalizeUnknownError } from "./provider-utils.ts";
import { createUsageStatusController } from "./status.ts";

const PROCESS_STATE_KEY = Symbol.for("pi-multicodex-plus.process-state");

/** Survives module re-evaluation (pi 0.73) and new extension instances (pi 1.x). */
function getProcessState(): ProcessState {
	const holder = globalThis as { [PROCESS_STATE_KEY]?: ProcessState };
	holder[PROCESS_STATE_KEY] ??= createProcessState();
	return holder[PROCESS_STATE_KEY];
}

export default function multicodexExtension(pi: ExtensionAPI): void {
	const accountManager = new AccountManager({ processState: getProcessState() });
	const statusController = createUsageStatusController(accountManager);
	/** The live context of this instance; undefined once pi shut the session down. */
	let liveContext: ExtensionContext | undefined;
	let sessionGeneration = 0;

	const warn = (message: string) => {
		const ctx = liveContext;
		try {
			if (ctx?.hasUI) {
				ctx.ui.notify(message, "warning");
				return;
			}
		} catch {
			liveContext = undefined;
		}
		process.stderr.write(`${message}\n`);
	};
	accountManager.setWarningHandler(warn);

	pi.registerProvider(PROVIDER_ID, buildMulticodexProviderConfig(accountManager));
	registerCommands(pi, accountManager, statusController);

	pi.on("session_start", async (_event, ctx) => {
		liveContext = ctx;
		const generation = ++sessionGeneration;
		const isCancelled = () => generation !== sessionGeneration || liveContext !== ctx;
		accountManager.beginInitialization();
		accountManager.resetSessionWarnings();
		// Read now and followed from then on: a change saved in another pi window applies here too.
		accountManager.loadRotationSettings();
		await prepareAccounts(accountManager);
		warnAboutReauth(accountManager, warn);
		if (!ctx.hasUI) {
			// Print and json runs show no footer: the request itself fetches what its choice needs,
			// so a short scripted run makes no usage requests of its own.
			keepOrClearManualPin(accountManager);
			return;
		}
		await statusController.loadPreferences(ctx);
		if (isCancelled()) return;
		statusController.startAutoRefresh();
		void statusController.refreshFor(ctx);
		void refreshAndActivateBestAccount(accountManager, isCancelled).catch((error) =>
			warn(`Multicodex: start-up refresh failed: ${normalizeUnknownError(error)}`),
		);
	});

	pi.on("turn_end", (_event, ctx) => {
		liveContext = ctx;
		void statusController.refreshFor(ctx);
	});

	// Only failed answers need the guard, so it loads with the first one.
	let piLoginGuard: ReturnType<typeof createPiLoginGuard> | undefined;
	pi.on("message_end", async (event, ctx) => {
		const { stopReason } = (event.message ?? {}) as { stopReason?: unknown };
		if (stopReason !== "error") return undefined;
		piLoginGuard ??= (await import("./pi-login-guard.ts")).createPiLoginGuard({
			redact: (text) => accountManager.redact(text),
			warn,
		});
		return piLoginGuard(event, ctx);
	});

	pi.on("model_select", (_event, ctx) => {
		liveContext = ctx;
		statusController.scheduleModelSelectRefresh(ctx);
	});

	pi.on("session_shutdown", (_event, ctx) => {
		sessionGeneration++;
		statusController.stopAutoRefresh(ctx);
		accountManager.cancelBackgroundWork();
		liveContext = undefined;
	});
}
