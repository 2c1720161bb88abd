// Helpers for end-to-end tests that run the real pi CLIs (0.73 on Node 20, 1.3 on Node 22) against
// the simulated Codex backend: isolated temp agent/home/cwd dirs, auth.json/settings.json writers,
// one-shot `pi -p` runs and a small `--mode rpc` client. Everything is offline (see network-preload.mjs).
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export const PRELOAD_PATH = join(REPO, "test/support/network-preload.mjs");

/** A Codex model id present in the openai-codex model list of both pi lines. */
export const SIM_MODEL = "gpt-5.5";
export const SIM_PROVIDER = "openai-codex";

export interface PiLine {
	name: "pi-0.73" | "pi-1.3";
	node: string;
	cli: string;
	/** Last event of a prompt run in RPC mode. */
	settledEvent: "agent_end" | "agent_settled";
}

export const PI_LINES: PiLine[] = [
	{
		name: "pi-0.73",
		node: process.execPath,
		cli: join(REPO, "node_modules/@mariozechner/pi-coding-agent/dist/cli.js"),
		settledEvent: "agent_end",
	},
	{
		name: "pi-1.3",
		node: join(REPO, "tools/node22/node_modules/.bin/node"),
		cli: join(REPO, "node_modules/@earendil-works/pi-coding-agent/dist/bundle/cli.js"),
		settledEvent: "agent_settled",
	},
];

const tempDirs: string[] = [];

export function makeTempDir(prefix = "multicodex-test-"): string {
	const dir = mkdtempSync(join(tmpdir(), prefix));
	tempDirs.push(dir);
	return dir;
}

/** Fresh directory for PI_CODING_AGENT_DIR. */
export function makeAgentDir(): string {
	return makeTempDir("multicodex-agent-");
}

export function cleanupTempDirs(): void {
	for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export interface PiOAuthLogin {
	access: string;
	refresh: string;
	/** ms epoch */
	expires: number;
	accountId: string;
}

/** pi's own openai-codex login: both lines read `{ "openai-codex": { type: "oauth", access, refresh, expires, accountId } }`. */
export function writeAuthJson(
	agentDir: string,
	login: PiOAuthLogin | undefined,
	extra: Record<string, unknown> = {},
): string {
	const path = join(agentDir, "auth.json");
	const data: Record<string, unknown> = { ...extra };
	if (login) {
		data[SIM_PROVIDER] = {
			type: "oauth",
			access: login.access,
			refresh: login.refresh,
			expires: login.expires,
			accountId: login.accountId,
		};
	}
	mkdirSync(agentDir, { recursive: true });
	writeFileSync(path, JSON.stringify(data, null, 2));
	chmodSync(path, 0o600);
	return path;
}

export function writeSettingsJson(
	agentDir: string,
	overrides: Record<string, unknown> = {},
): string {
	const path = join(agentDir, "settings.json");
	const settings = {
		defaultProvider: SIM_PROVIDER,
		defaultModel: SIM_MODEL,
		quietStartup: true,
		collapseChangelog: true,
		enableInstallTelemetry: false,
		cacheWarming: "off",
		...overrides,
	};
	mkdirSync(agentDir, { recursive: true });
	writeFileSync(path, JSON.stringify(settings, null, 2));
	return path;
}

export interface PiSpawnOptions {
	agentDir: string;
	simUrl: string;
	extensionPath?: string;
	env?: Record<string, string | undefined>;
	cwd?: string;
	home?: string;
	/** Extra Node options placed before the CLI path (e.g. a second `--import`, `--cpu-prof`). */
	nodeArgs?: string[];
}

/** What keeps a test pi off the real ~/.pi and the network: its agent dir, offline, the sim. */
export function sandboxVariables(opts: {
	agentDir: string;
	simUrl: string;
}): Record<string, string> {
	return {
		PI_CODING_AGENT_DIR: opts.agentDir,
		PI_OFFLINE: "1",
		PI_SKIP_VERSION_CHECK: "1",
		PI_TELEMETRY: "0",
		MULTICODEX_SIM_URL: opts.simUrl,
		MULTICODEX_SIM_BLOCK_OTHER: "1",
	};
}

function buildSpawn(line: PiLine, args: string[], opts: PiSpawnOptions) {
	const cwd = opts.cwd ?? makeTempDir("multicodex-cwd-");
	const home = opts.home ?? makeTempDir("multicodex-home-");
	const env: Record<string, string> = {
		PATH: process.env.PATH ?? "/usr/bin:/bin",
		HOME: home,
		USERPROFILE: home,
		XDG_CONFIG_HOME: join(home, ".config"),
		XDG_CACHE_HOME: join(home, ".cache"),
		TMPDIR: tmpdir(),
		TERM: "dumb",
		NO_COLOR: "1",
		...sandboxVariables(opts),
	};
	for (const [key, value] of Object.entries(opts.env ?? {})) {
		if (value === undefined) delete env[key];
		else env[key] = value;
	}
	const extArgs = opts.extensionPath ? ["-e", opts.extensionPath] : [];
	return {
		command: line.node,
		argv: ["--import", PRELOAD_PATH, ...(opts.nodeArgs ?? []), line.cli, ...extArgs, ...args],
		cwd,
		env,
	};
}

/** `--provider openai-codex --model <SIM_MODEL>` */
export function modelArgs(): string[] {
	return ["--provider", SIM_PROVIDER, "--model", SIM_MODEL];
}

export interface RunPiOptions extends PiSpawnOptions {
	args: string[];
	timeoutMs?: number;
	stdin?: string;
}

export interface RunPiResult {
	code: number | null;
	signal: NodeJS.Signals | null;
	stdout: string;
	stderr: string;
	durationMs: number;
	timedOut: boolean;
}

function stopChild(child: ChildProcess): void {
	if (child.exitCode !== null || child.signalCode !== null) return;
	child.kill("SIGTERM");
	setTimeout(() => {
		if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
	}, 2000).unref();
}

export function runPi(line: PiLine, opts: RunPiOptions): Promise<RunPiResult> {
	const { command, argv, cwd, env } = buildSpawn(line, opts.args, opts);
	const started = Date.now();
	return new Promise((resolvePromise, reject) => {
		const child = spawn(command, argv, {
			cwd,
			env,
			stdio: [opts.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
		});
		let stdout = "";
		let stderr = "";
		let timedOut = false;
		child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
			stdout += chunk;
		});
		child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
			stderr += chunk;
		});
		if (opts.stdin !== undefined) child.stdin?.end(opts.stdin);
		const timer = setTimeout(() => {
			timedOut = true;
			stopChild(child);
		}, opts.timeoutMs ?? 30_000);
		child.on("error", (error) => {
			clearTimeout(timer);
			reject(error);
		});
		child.on("close", (code, signal) => {
			clearTimeout(timer);
			resolvePromise({ code, signal, stdout, stderr, durationMs: Date.now() - started, timedOut });
		});
	});
}

// ---------------------------------------------------------------- RPC mode

export type RpcEvent = Record<string, unknown> & { type: string };

export interface UiAnswer {
	value?: string;
	confirmed?: boolean;
	cancelled?: boolean;
}

export interface RpcPiOptions extends PiSpawnOptions {
	/** Extra CLI args after `--mode rpc` (default: `--no-session` + modelArgs()). */
	args?: string[];
	/** Auto-answer dialog `extension_ui_request`s; return undefined to leave one for manual `respondUi`. */
	autoUi?: (request: RpcEvent) => UiAnswer | undefined;
}

export interface RpcPi {
	readonly events: RpcEvent[];
	readonly stderr: string;
	readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
	/** Send a command; resolves with its `response` record. */
	send(command: Record<string, unknown> & { type: string }, timeoutMs?: number): Promise<RpcEvent>;
	/** Resolve with the first event (at index >= `from`, default 0) matching `predicate`. */
	waitFor(
		predicate: (event: RpcEvent) => boolean,
		opts?: { timeoutMs?: number; from?: number },
	): Promise<RpcEvent>;
	/** Send a prompt and wait until the run settles (agent_end on 0.73, agent_settled on 1.x). */
	promptAndWait(message: string, timeoutMs?: number): Promise<RpcEvent[]>;
	respondUi(id: string, answer: UiAnswer): void;
	close(timeoutMs?: number): Promise<void>;
}

export function startRpcPi(line: PiLine, opts: RpcPiOptions): RpcPi {
	const { command, argv, cwd, env } = buildSpawn(
		line,
		["--mode", "rpc", ...(opts.args ?? ["--no-session", ...modelArgs()])],
		opts,
	);
	const child = spawn(command, argv, { cwd, env, stdio: ["pipe", "pipe", "pipe"] });
	const events: RpcEvent[] = [];
	const waiters = new Set<() => void>();
	let stderr = "";
	let buffer = "";
	let nextId = 0;
	let exitedFlag = false;

	const notify = () => {
		for (const waiter of [...waiters]) waiter();
	};
	const write = (record: unknown) => {
		if (!exitedFlag) child.stdin?.write(`${JSON.stringify(record)}\n`);
	};
	const respondUi = (id: string, answer: UiAnswer) =>
		write({ type: "extension_ui_response", id, ...answer });

	child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
		buffer += chunk;
		let newline = buffer.indexOf("\n");
		while (newline >= 0) {
			const lineText = buffer.slice(0, newline).replace(/\r$/, "");
			buffer = buffer.slice(newline + 1);
			newline = buffer.indexOf("\n");
			if (!lineText.trim()) continue;
			let event: RpcEvent;
			try {
				event = JSON.parse(lineText);
			} catch {
				event = { type: "non_json_stdout", text: lineText };
			}
			events.push(event);
			const isDialog =
				event.type === "extension_ui_request" &&
				["select", "confirm", "input", "editor"].includes(String(event.method));
			if (isDialog && opts.autoUi) {
				const answer = opts.autoUi(event);
				if (answer) respondUi(String(event.id), answer);
			}
		}
		notify();
	});
	child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
		stderr += chunk;
	});
	const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
		(resolveExit) => {
			child.on("close", (code, signal) => {
				exitedFlag = true;
				notify();
				resolveExit({ code, signal });
			});
		},
	);

	const waitFor: RpcPi["waitFor"] = (predicate, { timeoutMs = 20_000, from = 0 } = {}) =>
		new Promise((resolveWait, reject) => {
			const check = () => {
				const found = events.slice(from).find(predicate);
				if (found) return finish(() => resolveWait(found));
				if (exitedFlag)
					return finish(() =>
						reject(new Error(`pi exited before the awaited RPC event\n${stderr.slice(-2000)}`)),
					);
			};
			const timer = setTimeout(
				() =>
					finish(() =>
						reject(
							new Error(
								`Timed out after ${timeoutMs} ms waiting for RPC event; last: ${JSON.stringify(events.slice(-3)).slice(0, 1500)}`,
							),
						),
					),
				timeoutMs,
			);
			const finish = (fn: () => void) => {
				clearTimeout(timer);
				waiters.delete(check);
				fn();
			};
			waiters.add(check);
			check();
		});

	const send: RpcPi["send"] = (cmd, timeoutMs) => {
		const id = typeof cmd.id === "string" ? cmd.id : `test-${++nextId}`;
		const from = events.length;
		write({ ...cmd, id });
		return waitFor((e) => e.type === "response" && e.id === id, { timeoutMs, from });
	};

	return {
		events,
		get stderr() {
			return stderr;
		},
		exited,
		send,
		waitFor,
		respondUi,
		async promptAndWait(message, timeoutMs = 30_000) {
			const from = events.length;
			const response = await send({ type: "prompt", message }, timeoutMs);
			if (response.success === false) throw new Error(`prompt rejected: ${String(response.error)}`);
			await waitFor((e) => e.type === line.settledEvent, { timeoutMs, from });
			return events.slice(from);
		},
		async close(timeoutMs = 5000) {
			if (!exitedFlag) child.stdin?.end();
			const timer = setTimeout(() => stopChild(child), timeoutMs);
			await exited;
			clearTimeout(timer);
		},
	};
}
