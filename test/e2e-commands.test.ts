// End to end, the whole `/multicodex` surface with the real pi CLI on both lines against the
// simulated backend: the exact lines of print and json mode (B12), every subcommand in RPC mode
// with its dialogs answered by the test, and logins through pi's OAuth where the test plays the
// browser (the callback on localhost:1455, or the pasted redirect URL).
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import {
	cleanupTempDirs,
	makeAgentDir,
	makeTempDir,
	modelArgs,
	PI_LINES,
	type PiLine,
	type RpcEvent,
	type RpcPi,
	runPi,
	startRpcPi,
	type UiAnswer,
	writeSettingsJson,
} from "./support/pi-runner.ts";
import { type SimBackend, type SimCredentials, startSimBackend } from "./support/sim-backend.ts";
import { findLeakedTokens } from "./support/sim-tokens.ts";

const EXTENSION = resolve(import.meta.dirname, "..", "index.ts");
const HELP =
	"Usage: /multicodex [accounts [identifier]|use [identifier]|show|refresh [identifier|all]|reauth [identifier]|footer|rotation|verify|path|reset [manual|quota|all]|help]";
const HOUR_S = 3600;
const ANSI_COLOR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");
const DAY_S = 24 * HOUR_S;

interface StoredAccount {
	email: string;
	accessToken: string;
	refreshToken: string;
	expiresAt: number;
	accountId?: string;
	quotaExhaustedUntil?: number;
	needsReauth?: boolean;
}

function writeAccounts(agentDir: string, accounts: Partial<StoredAccount>[], activeEmail?: string) {
	writeFileSync(
		join(agentDir, "codex-accounts.json"),
		JSON.stringify({ version: 1, accounts, activeEmail }, null, 2),
		{ mode: 0o600 },
	);
}

function stored(c: SimCredentials, extra: Partial<StoredAccount> = {}): Partial<StoredAccount> {
	return {
		email: c.email,
		accessToken: c.access,
		refreshToken: c.refresh,
		expiresAt: c.expires,
		accountId: c.accountId,
		...extra,
	};
}

function readAccounts(agentDir: string): StoredAccount[] {
	return JSON.parse(readFileSync(join(agentDir, "codex-accounts.json"), "utf8")).accounts;
}

function readSettings(agentDir: string): Record<string, unknown> {
	return JSON.parse(readFileSync(join(agentDir, "settings.json"), "utf8"));
}

/** A stand-in for `xdg-open`/`open` on PATH: records the URL; fails while `<log>.fail` exists. */
function fakeBrowser(): { path: string; log: string } {
	const bin = makeTempDir("multicodex-bin-");
	const log = join(bin, "opened.log");
	const script = `#!/bin/sh\nif [ -e "${log}.fail" ]; then exit 3; fi\necho "$@" >> "${log}"\n`;
	for (const name of ["xdg-open", "open"]) {
		writeFileSync(join(bin, name), script);
		chmodSync(join(bin, name), 0o755);
	}
	return { path: `${bin}:${process.env.PATH ?? "/usr/bin:/bin"}`, log };
}

const nowS = () => Math.floor(Date.now() / 1000);

/** a: 10 %/20 % used (active), b: 50 %/60 %, c: needs a new login. */
async function startFixture() {
	const sim = await startSimBackend({
		accounts: [
			{
				email: "a@sim.test",
				usage: {
					primaryUsedPercent: 10,
					primaryResetAt: nowS() + 2 * HOUR_S + 600,
					secondaryUsedPercent: 20,
					secondaryResetAt: nowS() + 3 * DAY_S + HOUR_S,
				},
			},
			{
				email: "b@sim.test",
				usage: {
					primaryUsedPercent: 50,
					primaryResetAt: nowS() + 4 * HOUR_S + 600,
					secondaryUsedPercent: 60,
					secondaryResetAt: nowS() + 5 * DAY_S + HOUR_S,
				},
			},
			{ email: "c@sim.test" },
		],
	});
	const agentDir = makeAgentDir();
	writeSettingsJson(agentDir, { "pi-multicodex": { usageMode: "used", showReset: false } });
	writeAccounts(
		agentDir,
		[
			stored(sim.issueTokens("a@sim.test")),
			stored(sim.issueTokens("b@sim.test"), { quotaExhaustedUntil: Date.now() + HOUR_S * 1000 }),
			stored(sim.issueTokens("c@sim.test"), { needsReauth: true }),
		],
		"a@sim.test",
	);
	return { sim, agentDir };
}

const sims: SimBackend[] = [];
const rpcs: RpcPi[] = [];

afterEach(async () => {
	await Promise.all(rpcs.splice(0).map((rpc) => rpc.close()));
	await Promise.all(sims.splice(0).map((sim) => sim.close()));
});

afterAll(() => cleanupTempDirs());

function notifications(events: RpcEvent[]): { message: string; level: string }[] {
	return events
		.filter((e) => e.type === "extension_ui_request" && e.method === "notify")
		.map((e) => ({ message: String(e.message), level: String(e.notifyType ?? "info") }));
}

function messages(events: RpcEvent[]): string[] {
	return notifications(events).map((n) => n.message);
}

// ------------------------------------------------------------------ dialogs answered by script

/** One expected dialog: its method, a check of the request, and the answer (undefined: the test answers it later). */
interface DialogStep {
	method: "select" | "confirm" | "input";
	title?: RegExp;
	answer: (request: RpcEvent) => UiAnswer | undefined;
}

function pick(startsWith: string): (request: RpcEvent) => UiAnswer {
	return (request) => {
		const option = (request.options as string[]).find((o) => o.startsWith(startsWith));
		if (!option) throw new Error(`no option starting with "${startsWith}" in ${request.options}`);
		return { value: option };
	};
}

class DialogScript {
	private steps: DialogStep[] = [];
	readonly problems: string[] = [];

	expect(...steps: DialogStep[]): void {
		this.steps.push(...steps);
	}

	get pending(): number {
		return this.steps.length;
	}

	answer = (request: RpcEvent): UiAnswer | undefined => {
		const step = this.steps.shift();
		const describe = `${request.method} "${String(request.title)}"`;
		if (!step) {
			this.problems.push(`unexpected ${describe}`);
			return { cancelled: true };
		}
		if (step.method !== request.method || (step.title && !step.title.test(String(request.title)))) {
			this.problems.push(`expected ${step.method} ${step.title ?? ""}, got ${describe}`);
			return { cancelled: true };
		}
		try {
			return step.answer(request);
		} catch (error) {
			this.problems.push(String(error));
			return { cancelled: true };
		}
	};
}

function startRpc(line: PiLine, sim: SimBackend, agentDir: string, script: DialogScript, env = {}) {
	const rpc = startRpcPi(line, {
		agentDir,
		simUrl: sim.url,
		extensionPath: EXTENSION,
		autoUi: (request) => script.answer(request),
		env,
	});
	rpcs.push(rpc);
	return rpc;
}

/** Runs one command (pi answers the prompt once the command finished); returns its events. */
async function command(rpc: RpcPi, script: DialogScript, text: string, ...steps: DialogStep[]) {
	script.expect(...steps);
	const from = rpc.events.length;
	const response = await rpc.send({ type: "prompt", message: text }, 30_000);
	expect(response.success, JSON.stringify(response)).toBe(true);
	expect(script.problems).toEqual([]);
	expect(script.pending, `dialogs left unanswered after ${text}`).toBe(0);
	return rpc.events.slice(from);
}

function statusTexts(events: RpcEvent[]): string[] {
	return events
		.filter((e) => e.method === "setStatus" && e.statusKey === "multicodex-usage")
		.map((e) => String(e.statusText ?? "").replace(ANSI_COLOR, ""));
}

function expectNoLeaks(rpc: RpcPi): void {
	expect(findLeakedTokens(JSON.stringify(rpc.events) + rpc.stderr)).toEqual([]);
}

describe.each(PI_LINES)("/multicodex on $name", (line) => {
	it("prints every non-interactive line where print and json mode users see it", async () => {
		const { sim, agentDir } = await startFixture();
		sims.push(sim);
		const commands = [
			"verify",
			"show",
			"path",
			"footer",
			"help",
			"refresh a@sim.test",
			"refresh nobody@sim.test",
			"refresh all",
			"reset quota",
			"reset bogus",
			"bogus",
			"",
			"RESET",
		].map((c) => `/multicodex ${c}`.trim());
		const result = await runPi(line, {
			agentDir,
			simUrl: sim.url,
			extensionPath: EXTENSION,
			args: ["--no-session", ...modelArgs(), "-p", ...commands],
			timeoutMs: 60_000,
		});
		expect(result.timedOut).toBe(false);
		expect(result.code).toBe(0);
		const lines = result.stderr.split("\n").filter((l) => !/re-authentication/.test(l));
		const has = (pattern: RegExp) =>
			expect(
				lines.some((l) => pattern.test(l)),
				String(pattern),
			).toBe(true);
		expect(lines).toContain(
			"verify: WARN storage=ok settings=ok accounts=3 active=a@sim.test piAuth=none needsReauth=1",
		);
		expect(lines).toContain("a@sim.test (active) - 5h 10% reset:in 2h | weekly 20% reset:in 3d");
		has(/^b@sim\.test \(quota\) - 5h 50% reset:in 4h \| weekly 60% reset:in 5d$/);
		expect(lines).toContain(
			"c@sim.test (needs reauth) - 5h unknown reset:unknown | weekly unknown reset:unknown",
		);
		expect(lines).toContain(
			`paths: storage=${join(agentDir, "codex-accounts.json")} settings=${join(agentDir, "settings.json")}`,
		);
		expect(lines).toContain(
			"footer: usageMode=used resetWindow=7d showAccount=on showReset=off order=account-first",
		);
		expect(lines.filter((l) => l === HELP)).toHaveLength(2);
		expect(lines).toContain(
			"refreshed a@sim.test (active) - 5h 10% reset:in 2h | weekly 20% reset:in 3d",
		);
		expect(lines).toContain("Unknown account: nobody@sim.test");
		expect(lines).toContain("refreshed 3 account(s); reauth needed=1");
		expect(lines).toContain("reset: target=quota manualCleared=no quotaCleared=1");
		expect(lines).toContain(
			"Unknown reset target: bogus. Use: /multicodex reset [manual|quota|all]",
		);
		expect(lines).toContain("Unknown subcommand: bogus");
		expect(lines).toContain(
			"/multicodex requires a subcommand in non-interactive mode. Use /multicodex help.",
		);
		expect(lines).toContain("reset: target=all manualCleared=no quotaCleared=0");
		expect(
			readAccounts(agentDir).find((a) => a.email === "b@sim.test")?.quotaExhaustedUntil,
		).toBeUndefined();
		expect(findLeakedTokens(result.stdout + result.stderr)).toEqual([]);

		const json = await runPi(line, {
			agentDir,
			simUrl: sim.url,
			extensionPath: EXTENSION,
			args: [
				"--no-session",
				...modelArgs(),
				"--mode",
				"json",
				"/multicodex use b@sim.test",
				"/multicodex verify",
			],
			timeoutMs: 60_000,
		});
		expect(json.code).toBe(0);
		expect(json.stderr).toContain("Now using b@sim.test");
		expect(json.stderr).toContain(
			"verify: WARN storage=ok settings=ok accounts=3 active=b@sim.test piAuth=none needsReauth=1",
		);
	});

	it("runs every subcommand in RPC mode with its dialogs", async () => {
		const { sim, agentDir } = await startFixture();
		sims.push(sim);
		const script = new DialogScript();
		const rpc = startRpc(line, sim, agentDir, script);
		await rpc.waitFor((e) => e.method === "setStatus" && e.statusKey === "multicodex-usage");

		// The main menu lists the subcommands with a description; choosing one runs it.
		let events = await command(rpc, script, "/multicodex", {
			method: "select",
			title: /^MultiCodex$/,
			answer: (request) => {
				expect(request.options).toEqual(
					expect.arrayContaining([
						expect.stringMatching(/^accounts: /),
						expect.stringMatching(/^verify: /),
					]),
				);
				return pick("help")(request);
			},
		});
		expect(messages(events)).toContain(HELP);

		events = await command(rpc, script, "/multicodex VERIFY", {
			method: "select",
			title: /^MultiCodex Verify \(WARN\)$/,
			answer: (request) => {
				expect(request.options).toEqual([
					"storage directory writable: yes",
					"settings directory writable: yes",
					"managed accounts: 3",
					"active account: a@sim.test",
					"pi auth (memory only): none",
					"accounts needing re-authentication: 1",
				]);
				return { cancelled: true };
			},
		});

		events = await command(rpc, script, "/multicodex path", {
			method: "select",
			title: /^MultiCodex Paths$/,
			answer: (request) => {
				expect(request.options).toEqual([
					`Managed account storage: ${join(agentDir, "codex-accounts.json")}`,
					`Extension settings: ${join(agentDir, "settings.json")}`,
				]);
				return { cancelled: true };
			},
		});

		events = await command(rpc, script, "/multicodex nope");
		expect(notifications(events)).toEqual([
			{ message: "Unknown subcommand: nope", level: "warning" },
			{ message: HELP, level: "info" },
		]);

		// The account panel as dialogs: pick b, use it.
		events = await command(
			rpc,
			script,
			"/multicodex accounts",
			{
				method: "select",
				title: /^MultiCodex Accounts \(3 accounts · 1 need reauth\)$/,
				answer: (request) => {
					const options = request.options as string[];
					expect(options[0]).toBe(
						"a@sim.test (active) - 5h 10% reset:in 2h | weekly 20% reset:in 3d",
					);
					expect(options[2]).toMatch(/^c@sim\.test \(needs reauth\) - /);
					expect(options.at(-1)).toBe("+ add an account (log in)");
					return pick("b@sim.test")(request);
				},
			},
			{ method: "select", title: /^b@sim\.test$/, answer: pick("use") },
		);
		expect(messages(events)).toContain("Now using b@sim.test");

		// show: refresh an account from the panel; the panel comes back with fresh data.
		events = await command(
			rpc,
			script,
			"/multicodex show",
			{ method: "select", title: /^MultiCodex Accounts/, answer: pick("a@sim.test") },
			{ method: "select", title: /^a@sim\.test$/, answer: pick("refresh") },
			{
				method: "select",
				title: /^MultiCodex Accounts/,
				answer: (request) => {
					expect(request.options).toContain(
						"b@sim.test (active, manual, quota) - 5h 50% reset:in 4h | weekly 60% reset:in 5d",
					);
					return { cancelled: true };
				},
			},
		);
		expect(messages(events)).toContain(
			"refreshed a@sim.test - 5h 10% reset:in 2h | weekly 20% reset:in 3d",
		);

		// Removing the active account asks first and says it is active; "no" keeps it.
		events = await command(
			rpc,
			script,
			"/multicodex accounts",
			{ method: "select", title: /^MultiCodex Accounts/, answer: pick("b@sim.test") },
			{ method: "select", title: /^b@sim\.test$/, answer: pick("remove") },
			{
				method: "confirm",
				title: /^Remove account$/,
				answer: (request) => {
					expect(request.message).toBe(
						"Remove b@sim.test? This account is currently active and MultiCodex will switch to another account.",
					);
					return { confirmed: false };
				},
			},
			{ method: "select", title: /^MultiCodex Accounts \(3 accounts/, answer: pick("c@sim.test") },
			{ method: "select", title: /^c@sim\.test$/, answer: pick("remove") },
			{
				method: "confirm",
				title: /^Remove account$/,
				answer: (request) => {
					expect(request.message).toBe("Remove c@sim.test?");
					return { confirmed: true };
				},
			},
			{
				method: "select",
				title: /^MultiCodex Accounts \(2 accounts\)$/,
				answer: () => ({ cancelled: true }),
			},
		);
		expect(messages(events)).toContain("Removed c@sim.test");
		expect(readAccounts(agentDir).map((a) => a.email)).toEqual(["a@sim.test", "b@sim.test"]);

		events = await command(rpc, script, "/multicodex refresh all");
		expect(messages(events)).toContain("refreshed 2 account(s); reauth needed=0");
		events = await command(rpc, script, "/multicodex refresh ghost");
		expect(notifications(events)).toContainEqual({
			message: "Unknown account: ghost",
			level: "warning",
		});
		events = await command(rpc, script, "/multicodex reauth ghost");
		expect(notifications(events)).toContainEqual({
			message: "Unknown account: ghost",
			level: "warning",
		});
		events = await command(rpc, script, "/multicodex use A@SIM.TEST");
		expect(messages(events)).toContain("Now using a@sim.test");

		// reset: no target → choose; all → confirm (declined, then accepted).
		events = await command(
			rpc,
			script,
			"/multicodex reset",
			{ method: "select", title: /^Reset MultiCodex State$/, answer: pick("all") },
			{
				method: "confirm",
				title: /^Reset MultiCodex state$/,
				answer: () => ({ confirmed: false }),
			},
		);
		expect(messages(events).filter((m) => m.startsWith("reset:"))).toEqual([]);
		events = await command(rpc, script, "/multicodex reset all", {
			method: "confirm",
			title: /^Reset MultiCodex state$/,
			answer: () => ({ confirmed: true }),
		});
		expect(messages(events)).toContain("reset: target=all manualCleared=yes quotaCleared=1");
		events = await command(rpc, script, "/multicodex reset manual");
		expect(messages(events)).toContain("reset: target=manual manualCleared=no quotaCleared=0");
		events = await command(rpc, script, "/multicodex reset later");
		expect(notifications(events)).toContainEqual({
			message: "Unknown reset target: later. Use: /multicodex reset [manual|quota|all]",
			level: "warning",
		});

		// footer: each change is saved at once (before the dialog closes); other keys stay.
		const before = readSettings(agentDir);
		events = await command(
			rpc,
			script,
			"/multicodex footer",
			{
				method: "select",
				title: /^MultiCodex Footer \(preview: Codex · a@sim\.test · 5h:10% used · 7d:20% used\)$/,
				answer: pick("Usage display: used"),
			},
			{ method: "select", title: /^Usage display/, answer: pick("left") },
			{
				method: "select",
				title: /^MultiCodex Footer \(preview: Codex · a@sim\.test · 5h:90% left · 7d:80% left\)$/,
				answer: (request) => {
					const saved = readSettings(agentDir);
					expect(saved["pi-multicodex"]).toEqual({
						usageMode: "left",
						resetWindow: "7d",
						showAccount: true,
						showReset: false,
						order: "account-first",
					});
					const { "pi-multicodex": _ours, ...others } = saved;
					const { "pi-multicodex": _oursBefore, ...othersBefore } = before;
					expect(others).toEqual(othersBefore);
					return pick("Footer order")(request);
				},
			},
			{ method: "select", title: /^Footer order/, answer: pick("usage-first") },
			{ method: "select", title: /^MultiCodex Footer/, answer: () => ({ cancelled: true }) },
		);
		expect(statusTexts(events)).toContain("Codex · 5h:90% left · 7d:80% left · a@sim.test");
		expect((readSettings(agentDir)["pi-multicodex"] as { order: string }).order).toBe(
			"usage-first",
		);

		events = await command(rpc, script, "/multicodex help");
		expect(messages(events)).toEqual([HELP]);
		expectNoLeaks(rpc);
	});

	it("logs accounts in through pi's OAuth: browser callback, pasted URL, refusals", async () => {
		const sim = await startSimBackend({
			accounts: [
				{ email: "old@sim.test" },
				{ email: "new@sim.test" },
				{ email: "third@sim.test" },
				{ email: "fourth@sim.test" },
			],
		});
		sims.push(sim);
		const agentDir = makeAgentDir();
		writeSettingsJson(agentDir);
		const oldCreds = sim.issueTokens("old@sim.test");
		writeAccounts(agentDir, [
			stored(oldCreds),
			stored(sim.issueTokens("third@sim.test"), { needsReauth: true }),
		]);
		const browser = fakeBrowser();
		const script = new DialogScript();
		const rpc = startRpc(line, sim, agentDir, script, { PATH: browser.path });
		await rpc.waitFor((e) => e.method === "setStatus" && e.statusKey === "multicodex-usage");

		/**
		 * Starts a login command, waits for the URL and the code question, plays the browser and
		 * returns the events of the finished command.
		 */
		async function login(
			text: string,
			loginAs: string,
			finish: (location: string, codeQuestion: RpcEvent) => Promise<void>,
			dialogs: { before?: DialogStep[]; after?: DialogStep[] } = {},
		) {
			sim.state.options.nextLoginEmail = loginAs;
			script.expect(
				...(dialogs.before ?? []),
				{ method: "input", title: /paste the redirect URL/, answer: () => undefined },
				...(dialogs.after ?? []),
			);
			const from = rpc.events.length;
			const done = rpc.send({ type: "prompt", message: text }, 30_000);
			const shown = await rpc.waitFor(
				(e) => e.method === "notify" && /^Open this URL to log in: /.test(String(e.message)),
				{ from },
			);
			const url = new URL(String(shown.message).replace("Open this URL to log in: ", ""));
			expect(url.origin + url.pathname).toBe("https://auth.openai.com/oauth/authorize");
			expect(url.searchParams.get("code_challenge_method")).toBe("S256");
			expect(url.searchParams.get("state")).toBeTruthy();
			const question = await rpc.waitFor(
				(e) => e.method === "input" && /paste the redirect URL/.test(String(e.title)),
				{ from },
			);
			const authorize = await fetch(`${sim.url}/oauth/authorize${url.search}`, {
				redirect: "manual",
			});
			expect(authorize.status).toBe(302);
			await finish(String(authorize.headers.get("location")), question);
			const response = await done;
			expect(response.success).toBe(true);
			expect(script.problems).toEqual([]);
			expect(script.pending).toBe(0);
			return { events: rpc.events.slice(from), url: url.toString() };
		}

		/** The browser reaches pi's callback server; when the port is taken, paste the URL. */
		const viaCallback = async (location: string, question: RpcEvent) => {
			const callback = new URL(location);
			callback.hostname = "127.0.0.1";
			const answer = await fetch(callback).catch(() => undefined);
			if (answer?.status !== 200) rpc.respondUi(String(question.id), { value: location });
		};
		const viaPaste = async (location: string, question: RpcEvent) => {
			rpc.respondUi(String(question.id), { value: location });
		};
		const codeGrants = () => sim.state.requests.filter((r) => r.grantType === "authorization_code");

		// A new account through the browser callback: code exchanged with PKCE, stored, pinned.
		let { events, url } = await login("/multicodex use new@sim.test", "new@sim.test", viaCallback);
		expect(messages(events)).toEqual(
			expect.arrayContaining([
				"Starting login for new@sim.test... Check your browser.",
				"Now using new@sim.test",
			]),
		);
		expect(codeGrants().map((r) => [r.status, r.email])).toEqual([[200, "new@sim.test"]]);
		const added = readAccounts(agentDir).find((a) => a.email === "new@sim.test");
		expect(added?.accountId).toBe(sim.account("new@sim.test").accountId);
		expect(sim.tokenId(added?.accessToken ?? "")).toBeTruthy();
		await expect.poll(() => existsSync(browser.log)).toBe(true);
		expect(readFileSync(browser.log, "utf8").trim()).toBe(url);
		events = await command(rpc, script, "/multicodex show", {
			method: "select",
			title: /^MultiCodex Accounts/,
			answer: (request) => {
				expect(request.options).toEqual(
					expect.arrayContaining([expect.stringMatching(/^new@sim\.test \(active, manual\) - /)]),
				);
				return { cancelled: true };
			},
		});

		// The same OpenAI login under another identifier is refused.
		({ events } = await login("/multicodex use work", "old@sim.test", viaPaste));
		expect(notifications(events)).toContainEqual({
			message:
				"Login not stored: this OpenAI login is already stored as old@sim.test, so work would count the same quota twice. Use /multicodex use old@sim.test, or remove old@sim.test first.",
			level: "error",
		});
		expect(readAccounts(agentDir).map((a) => a.email)).not.toContain("work");

		// "add" in the account panel asks for an identifier, logs in, and the panel comes back.
		({ events } = await login("/multicodex accounts", "fourth@sim.test", viaCallback, {
			before: [
				{ method: "select", title: /^MultiCodex Accounts/, answer: pick("+ add an account") },
				{ method: "input", title: /^Account identifier$/, answer: () => ({ value: " team " }) },
			],
			after: [
				{
					method: "select",
					title: /^MultiCodex Accounts \(4 accounts · 1 need reauth\)$/,
					answer: (request) => {
						expect(request.options).toEqual(
							expect.arrayContaining([expect.stringMatching(/^team \(active, manual\) - /)]),
						);
						return { cancelled: true };
					},
				},
			],
		}));
		expect(messages(events)).toContain("Now using team");
		expect(readAccounts(agentDir).find((a) => a.email === "team")?.accountId).toBe(
			sim.account("fourth@sim.test").accountId,
		);

		// A pasted redirect URL from another login attempt fails the state check.
		({ events } = await login(
			"/multicodex reauth old@sim.test",
			"old@sim.test",
			async (location, question) => {
				const forged = new URL(location);
				forged.searchParams.set("state", "not-the-state");
				rpc.respondUi(String(question.id), { value: forged.toString() });
			},
		));
		expect(notifications(events)).toContainEqual({
			message: "Login failed: State mismatch",
			level: "error",
		});

		// reauth with a pasted URL replaces the tokens; the browser failing to open is a warning.
		writeFileSync(`${browser.log}.fail`, "");
		({ events } = await login("/multicodex reauth old@sim.test", "old@sim.test", viaPaste));
		expect(messages(events)).toContain("Now using old@sim.test");
		await expect
			.poll(() => messages(rpc.events))
			.toContain("Could not open a browser automatically. Open the login URL above by hand.");
		const old = readAccounts(agentDir).find((a) => a.email === "old@sim.test");
		expect(old?.refreshToken).not.toBe(oldCreds.refresh);

		// A stored account whose login no longer works: warn, then log in again (cancelled here).
		script.expect({
			method: "input",
			title: /paste the redirect URL/,
			answer: () => ({ cancelled: true }),
		});
		const cancelled = await rpc.send(
			{ type: "prompt", message: "/multicodex use third@sim.test" },
			30_000,
		);
		expect(cancelled.success).toBe(true);
		expect(script.problems).toEqual([]);
		expect(notifications(rpc.events)).toEqual(
			expect.arrayContaining([
				{
					message: expect.stringMatching(
						/^Stored login for third@sim\.test no longer works \(.*\)\. Starting login again\.$/,
					),
					level: "warning",
				},
				{ message: "Login failed: login cancelled", level: "error" },
			]),
		);
		expect(codeGrants().filter((r) => r.status === 200)).toHaveLength(4);
		expectNoLeaks(rpc);
	});
});
