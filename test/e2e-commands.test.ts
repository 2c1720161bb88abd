// End to end, the whole `/multicodex` surface with the real pi CLI on both lines against the
// simulated backend: the exact lines of print and json mode (B12), the same lines as `notify`
// events for every subcommand in RPC mode (A8's right column, no dialogs), and logins through
// pi's OAuth where the test plays the browser (the callback on localhost:1455, or the redirect
// URL pasted into the `input` dialog, the one dialog RPC clients still get).
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import {
	DEFAULT_ROTATION_SETTINGS,
	describeRotationPolicy,
	formatRotationSummaryLine,
} from "../rotation-settings.ts";
import { readAccountsFile, storedAccountOf, writeAccountsFile } from "./support/accounts-file.ts";
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
import { type SimBackend, startSimBackend } from "./support/sim-backend.ts";
import { findLeakedTokens } from "./support/sim-tokens.ts";

const EXTENSION = resolve(import.meta.dirname, "..", "index.ts");
const HELP =
	"Usage: /multicodex [accounts [identifier]|use [identifier]|show|refresh [identifier|all]|reauth [identifier]|footer|rotation|verify|path|reset [manual|quota|all]|help]";
const HOUR_S = 3600;
const ANSI_COLOR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");
const DAY_S = 24 * HOUR_S;

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
	writeAccountsFile(
		agentDir,
		[
			storedAccountOf(sim.issueTokens("a@sim.test")),
			storedAccountOf(sim.issueTokens("b@sim.test"), {
				quotaExhaustedUntil: Date.now() + HOUR_S * 1000,
			}),
			storedAccountOf(sim.issueTokens("c@sim.test"), { needsReauth: true }),
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
		// Some of these fail (bogus, nobody@sim.test, verify WARN): the run says so (B12).
		expect(result.code).toBe(1);
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
			readAccountsFile(agentDir).find((a) => a.email === "b@sim.test")?.quotaExhaustedUntil,
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
		// verify says WARN (c@sim.test needs a new login): a failure for scripts, in json mode too.
		expect(json.code).toBe(1);
		expect(json.stderr).toContain("Now using b@sim.test");
		expect(json.stderr).toContain(
			"verify: WARN storage=ok settings=ok accounts=3 active=b@sim.test piAuth=none needsReauth=1",
		);
	});

	it("tells scripts by the exit status whether a subcommand worked", async () => {
		const { sim, agentDir } = await startFixture();
		sims.push(sim);
		const run = (mode: string[], ...commands: string[]) =>
			runPi(line, {
				agentDir,
				simUrl: sim.url,
				extensionPath: EXTENSION,
				args: ["--no-session", ...modelArgs(), ...mode, ...commands],
				timeoutMs: 60_000,
			});
		const failures: [string[], string, string][] = [
			[["-p"], "/multicodex bogus", "Unknown subcommand: bogus"],
			[["-p"], "/multicodex refresh nobody", "Unknown account: nobody"],
			[["--mode", "json"], "/multicodex reauth nobody", "Unknown account: nobody"],
			[["-p"], "/multicodex reset later", "Unknown reset target: later."],
			[["-p"], "/multicodex verify", "verify: WARN "],
		];
		const results = await Promise.all(failures.map(([mode, command]) => run(mode, command)));
		for (const [index, [, command, said]] of failures.entries()) {
			const result = results[index];
			expect(result?.timedOut, command).toBe(false);
			expect(result?.stderr, command).toContain(said);
			expect(result?.code, `${command}\n${result?.stderr}`).toBe(1);
		}

		const worked = await run(
			["-p"],
			"/multicodex help",
			"/multicodex path",
			"/multicodex refresh a@sim.test",
			"/multicodex reset quota",
		);
		expect(worked.stderr).toContain("reset: target=quota");
		expect(worked.code, worked.stderr).toBe(0);
	});

	it("answers every subcommand in RPC mode with A8's lines as notifications, no dialogs", async () => {
		const { sim, agentDir } = await startFixture();
		sims.push(sim);
		// No dialog is expected: any select/confirm/input is recorded as a problem by `command`.
		const script = new DialogScript();
		const rpc = startRpc(line, sim, agentDir, script);
		await rpc.waitFor((e) => e.method === "setStatus" && e.statusKey === "multicodex-usage");
		// The start-up check warns about c@sim.test in the background; let it pass first so it
		// cannot land among a command's notifications.
		await rpc.waitFor(
			(e) => e.method === "notify" && String(e.message).includes("need re-authentication"),
		);
		const settingsBefore = readSettings(agentDir);

		/** Runs one command and returns its notifications (each with its level). */
		const run = async (text: string) => notifications(await command(rpc, script, text));
		const STATUS_A = "a@sim.test (active) - 5h 10% reset:in 2h | weekly 20% reset:in 3d";
		const STATUS_B = "b@sim.test (quota) - 5h 50% reset:in 4h | weekly 60% reset:in 5d";
		const STATUS_C =
			"c@sim.test (needs reauth) - 5h unknown reset:unknown | weekly unknown reset:unknown";
		const statusLines = { message: [STATUS_A, STATUS_B, STATUS_C].join("\n"), level: "info" };

		expect(await run("/multicodex")).toEqual([
			{
				message: "/multicodex requires a subcommand in non-interactive mode. Use /multicodex help.",
				level: "warning",
			},
		]);
		expect(await run("/multicodex help")).toEqual([{ message: HELP, level: "info" }]);
		expect(await run("/multicodex nope")).toEqual([
			{ message: "Unknown subcommand: nope", level: "warning" },
			{ message: HELP, level: "info" },
		]);
		expect(await run("/multicodex VERIFY")).toEqual([
			{
				message:
					"verify: WARN storage=ok settings=ok accounts=3 active=a@sim.test piAuth=none needsReauth=1",
				level: "warning",
			},
		]);
		expect(await run("/multicodex path")).toEqual([
			{
				message: `paths: storage=${join(agentDir, "codex-accounts.json")} settings=${join(agentDir, "settings.json")}`,
				level: "info",
			},
		]);
		expect(await run("/multicodex footer")).toEqual([
			{
				message:
					"footer: usageMode=used resetWindow=7d showAccount=on showReset=off order=account-first",
				level: "info",
			},
		]);
		expect(await run("/multicodex rotation")).toEqual([
			{
				message: [
					formatRotationSummaryLine(DEFAULT_ROTATION_SETTINGS),
					...describeRotationPolicy(DEFAULT_ROTATION_SETTINGS),
				].join(" "),
				level: "info",
			},
		]);

		// The account subcommands without an id: one notification with a status line per account.
		expect(await run("/multicodex accounts")).toEqual([statusLines]);
		expect(await run("/multicodex use")).toEqual([statusLines]);
		expect(await run("/multicodex show")).toEqual([statusLines]);

		// refresh: without an argument the same as `all`; with an id, its refreshed status line.
		expect(await run("/multicodex refresh")).toEqual([
			{ message: "refreshed 3 account(s); reauth needed=1", level: "warning" },
		]);
		expect(await run("/multicodex refresh all")).toEqual([
			{ message: "refreshed 3 account(s); reauth needed=1", level: "warning" },
		]);
		expect(await run("/multicodex refresh A@sim.test")).toEqual([
			{ message: `refreshed ${STATUS_A}`, level: "info" },
		]);
		expect(await run("/multicodex refresh ghost")).toEqual([
			{ message: "Unknown account: ghost", level: "warning" },
		]);
		expect(await run("/multicodex reauth ghost")).toEqual([
			{ message: "Unknown account: ghost", level: "warning" },
		]);

		// use <id> with a working login pins it without a dialog; the footer follows. b is cooling
		// down, which the line says as a warning.
		const from = rpc.events.length;
		expect(await run("/multicodex use b@sim.test")).toEqual([
			{
				message: expect.stringMatching(/^Now using b@sim\.test \(out of quota until .+, in 1h: /),
				level: "warning",
			},
		]);
		await expect
			.poll(() => statusTexts(rpc.events.slice(from)))
			.toContain("Codex · b@sim.test · 5h:50% used · 7d:60% used");
		expect(await run("/multicodex use A@SIM.TEST")).toEqual([
			{ message: "Now using a@sim.test", level: "info" },
		]);

		// reset: without a target all, and nothing is asked; `all` is not asked either.
		expect(await run("/multicodex reset")).toEqual([
			{ message: "reset: target=all manualCleared=yes quotaCleared=1", level: "info" },
		]);
		expect(
			readAccountsFile(agentDir).find((a) => a.email === "b@sim.test")?.quotaExhaustedUntil,
		).toBeUndefined();
		expect(await run("/multicodex reset all")).toEqual([
			{ message: "reset: target=all manualCleared=no quotaCleared=0", level: "info" },
		]);
		expect(await run("/multicodex reset manual")).toEqual([
			{ message: "reset: target=manual manualCleared=no quotaCleared=0", level: "info" },
		]);
		expect(await run("/multicodex reset later")).toEqual([
			{
				message: "Unknown reset target: later. Use: /multicodex reset [manual|quota|all]",
				level: "warning",
			},
		]);

		// Nothing was edited behind the client's back.
		expect(readSettings(agentDir)).toEqual(settingsBefore);
		expect(
			rpc.events.filter((e) => ["select", "confirm", "input"].includes(String(e.method))),
		).toEqual([]);
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
		writeAccountsFile(agentDir, [
			storedAccountOf(oldCreds),
			storedAccountOf(sim.issueTokens("third@sim.test"), { needsReauth: true }),
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
		) {
			sim.state.options.nextLoginEmail = loginAs;
			script.expect({ method: "input", title: /paste the redirect URL/, answer: () => undefined });
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
		const added = readAccountsFile(agentDir).find((a) => a.email === "new@sim.test");
		expect(added?.accountId).toBe(sim.account("new@sim.test").accountId);
		expect(sim.tokenId(added?.accessToken ?? "")).toBeTruthy();
		await expect.poll(() => existsSync(browser.log)).toBe(true);
		expect(readFileSync(browser.log, "utf8").trim()).toBe(url);
		events = await command(rpc, script, "/multicodex show");
		expect(messages(events).join("\n").split("\n")).toEqual(
			expect.arrayContaining([expect.stringMatching(/^new@sim\.test \(active, manual\) - /)]),
		);

		// The same OpenAI login under another identifier is refused.
		({ events } = await login("/multicodex use work", "old@sim.test", viaPaste));
		expect(notifications(events)).toContainEqual({
			message:
				"Login not stored: this OpenAI login is already stored as old@sim.test, so work would count the same quota twice. Use /multicodex use old@sim.test, or remove old@sim.test first.",
			level: "error",
		});
		expect(readAccountsFile(agentDir).map((a) => a.email)).not.toContain("work");

		// `accounts <unknown id>` logs a new account in under that name; the list shows it.
		({ events } = await login("/multicodex accounts team", "fourth@sim.test", viaCallback));
		expect(messages(events)).toContain("Now using team");
		expect(readAccountsFile(agentDir).find((a) => a.email === "team")?.accountId).toBe(
			sim.account("fourth@sim.test").accountId,
		);
		events = await command(rpc, script, "/multicodex accounts");
		const listed = messages(events).join("\n").split("\n");
		expect(listed).toHaveLength(4);
		expect(listed).toEqual(
			expect.arrayContaining([
				expect.stringMatching(/^team \(active, manual\) - /),
				expect.stringMatching(/^third@sim\.test \(needs reauth\) - /),
			]),
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
		const old = readAccountsFile(agentDir).find((a) => a.email === "old@sim.test");
		expect(old?.refreshToken).not.toBe(oldCreds.refresh);

		// reauth without an id logs the active account (old, just pinned) in again.
		({ events } = await login("/multicodex reauth", "old@sim.test", viaPaste));
		expect(messages(events)).toEqual(
			expect.arrayContaining([
				"Starting login for old@sim.test... Check your browser.",
				"Now using old@sim.test",
			]),
		);
		expect(
			readAccountsFile(agentDir).find((a) => a.email === "old@sim.test")?.refreshToken,
		).not.toBe(old?.refreshToken);

		// A stored account whose login no longer works: warn, then log in again (cancelled here).
		script.expect({
			method: "input",
			title: /paste the redirect URL/,
			answer: () => ({ cancelled: true }),
		});
		const beforeCancel = rpc.events.length;
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
				// The user's own choice: a plain line, not a failure.
				{ message: "Login cancelled.", level: "info" },
			]),
		);
		const afterCancel = messages(rpc.events.slice(beforeCancel));
		expect(afterCancel.filter((m) => m.startsWith("Login failed"))).toEqual([]);
		expect(codeGrants().filter((r) => r.status === 200)).toHaveLength(5);
		expectNoLeaks(rpc);
	});
});
