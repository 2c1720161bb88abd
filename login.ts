// Logging an account in (new or again) through pi's own OpenAI Codex OAuth: the browser is
// opened through `pi.exec`, the URL is shown, a pasted redirect URL or code is accepted while
// the local callback waits, and the result is stored, pinned and announced.
import type { ExtensionAPI, ExtensionCommandContext } from "@mariozechner/pi-coding-agent";
import type { AccountManager } from "./account-manager.ts";
import { describeNowUsing } from "./account-status.ts";
import { getTokenIdentity } from "./auth.ts";
import { type CommandDeps, report, reportFailure } from "./command-output.ts";
import { type CodexCredentials, loginCodex } from "./pi-adapter.ts";
import { normalizeUnknownError } from "./provider-utils.ts";
import type { Account } from "./storage.ts";

/** Without a UI nobody can paste a code: the browser callback gets this long. */
export const LOGIN_TIMEOUT_MS = 5 * 60_000;
const BROWSER_TIMEOUT_MS = 15_000;
const CODE_PROMPT_TITLE =
	"Finish the login in your browser, or paste the redirect URL (or the code) here";

export interface BrowserCommand {
	command: string;
	args: string[];
}

/** `open` (macOS), `cmd /c start` (Windows, `&` escaped for cmd), else `xdg-open`. */
export function browserCommandFor(platform: NodeJS.Platform, url: string): BrowserCommand {
	if (platform === "darwin") return { command: "open", args: [url] };
	if (platform === "win32") {
		return { command: "cmd", args: ["/c", "start", '""', url.replace(/[&^|<>()]/g, "^$&")] };
	}
	return { command: "xdg-open", args: [url] };
}

/** Opens the URL in the user's browser; false (never an exception) when that did not work. */
export async function openInBrowser(pi: ExtensionAPI, url: string): Promise<boolean> {
	const { command, args } = browserCommandFor(process.platform, url);
	try {
		const result = await pi.exec(command, args, { timeout: BROWSER_TIMEOUT_MS });
		return result.code === 0 && !result.killed;
	} catch {
		return false;
	}
}

/** The stored account that already holds this login under another identifier, if any. */
export function findSameLoginElsewhere(
	accounts: readonly Account[],
	identifier: string,
	accessToken: string,
): Account | undefined {
	const identity = getTokenIdentity(accessToken);
	if (!identity) return undefined;
	return accounts.find(
		(account) => account.email !== identifier && getTokenIdentity(account.accessToken) === identity,
	);
}

/** The user closed the question for the code (Esc): their choice, not a failure. */
class LoginCancelledError extends Error {
	constructor() {
		super("login cancelled");
	}
}

/**
 * pi asks for the code or redirect URL while its callback server waits. With a UI that is an
 * input dialog (dismissed through `signal` when the browser callback won); without one nobody
 * can answer, so only the callback can finish the login, within LOGIN_TIMEOUT_MS.
 */
async function askForCode(
	ctx: ExtensionCommandContext,
	placeholder: string | undefined,
	signal: AbortSignal | undefined,
): Promise<string> {
	if (!ctx.hasUI) return waitForAbortOrTimeout(signal);
	const value = await ctx.ui.input(CODE_PROMPT_TITLE, placeholder, { signal });
	if (signal?.aborted) throw new Error("the browser finished the login");
	if (!value?.trim()) throw new LoginCancelledError();
	return value.trim();
}

function waitForAbortOrTimeout(signal: AbortSignal | undefined): Promise<string> {
	return new Promise((_resolve, reject) => {
		const timer = setTimeout(
			() =>
				reject(
					new Error(
						`no browser login within ${LOGIN_TIMEOUT_MS / 60_000} minutes; run it again in pi's TUI to paste the redirect URL`,
					),
				),
			LOGIN_TIMEOUT_MS,
		);
		signal?.addEventListener(
			"abort",
			() => {
				clearTimeout(timer);
				reject(new Error("the browser finished the login"));
			},
			{ once: true },
		);
	});
}

async function runCodexLogin(
	ctx: ExtensionCommandContext,
	pi: ExtensionAPI,
): Promise<CodexCredentials> {
	return loginCodex({
		onAuth: ({ url }) => {
			report(ctx, `Open this URL to log in: ${url}`);
			void openInBrowser(pi, url).then((opened) => {
				if (opened) return;
				const message = "Could not open a browser automatically. Open the login URL above by hand.";
				try {
					report(ctx, message, "warning");
				} catch {
					// The session was replaced meanwhile; its ctx is gone, stderr is not.
					process.stderr.write(`${message}\n`);
				}
			});
		},
		onPrompt: (_message, placeholder, signal) => askForCode(ctx, placeholder, signal),
	});
}

function sameLoginMessage(identifier: string, other: string): string {
	return (
		`Login not stored: this OpenAI login is already stored as ${other}, so ${identifier} would ` +
		`count the same quota twice. Use /multicodex use ${other}, or remove ${other} first.`
	);
}

/**
 * Logs `identifier` in (a new account, or again for a stored one), stores it, pins it and says
 * `Now using <id>`. Returns the account, or undefined when the login failed or was refused.
 */
export async function loginAccount(
	ctx: ExtensionCommandContext,
	deps: CommandDeps,
	identifier: string,
): Promise<Account | undefined> {
	const { accountManager } = deps;
	report(ctx, `Starting login for ${identifier}... Check your browser.`);
	let creds: CodexCredentials;
	try {
		creds = await runCodexLogin(ctx, deps.pi);
	} catch (error) {
		// pi's OAuth passes the question's error on as it is.
		if (error instanceof LoginCancelledError) report(ctx, "Login cancelled.");
		else reportFailure(ctx, `Login failed: ${describeError(accountManager, error)}`, "error");
		return undefined;
	}
	const other = findSameLoginElsewhere(
		accountManager.getManagedAccounts(),
		identifier,
		creds.access,
	);
	if (other) {
		reportFailure(ctx, sameLoginMessage(identifier, other.email), "error");
		return undefined;
	}
	try {
		const account = accountManager.addOrUpdateAccount(identifier, creds);
		accountManager.setManualAccount(account.email);
		const now = Date.now();
		const cooling = (account.quotaExhaustedUntil ?? 0) > now;
		report(ctx, describeNowUsing(account, now), cooling ? "warning" : "info");
		void accountManager.refreshUsageForAccount(account, { force: true });
		void deps.statusController.refreshFor(ctx);
		return account;
	} catch (error) {
		reportFailure(ctx, `Login failed: ${describeError(accountManager, error)}`, "error");
		return undefined;
	}
}

function describeError(accountManager: AccountManager, error: unknown): string {
	return accountManager.redact(normalizeUnknownError(error));
}
