// Runs the real pi TUI inside a detached tmux session (a private tmux server per session, so a
// user's own tmux is never touched) for end-to-end tests of panels: type, press keys, read the
// screen with `capture-pane`, and keep captured screens in test-output/screens for review.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { makeTempDir, type PiLine, PRELOAD_PATH, sandboxVariables } from "./pi-runner.ts";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const SCREENS_DIR = join(REPO, "test-output", "screens");

export function isTmuxAvailable(): boolean {
	return spawnSync("tmux", ["-V"], { stdio: "ignore" }).status === 0;
}

function shellQuote(value: string): string {
	return `'${value.replace(/'/g, `'\\''`)}'`;
}

export interface TmuxPiOptions {
	agentDir: string;
	simUrl: string;
	extensionPath: string;
	args: string[];
	env?: Record<string, string>;
	width?: number;
	height?: number;
}

export interface TmuxPi {
	/** The visible screen as plain text. */
	capture(): string;
	/** Types text literally (no key names). */
	type(text: string): void;
	/** Presses keys by tmux name (`Enter`, `Down`, `BSpace`, `Escape`, `C-c`, …). */
	press(...keys: string[]): void;
	/** Resolves with the screen once `pattern` appears on it. */
	waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
	/** Types a command line and submits it (a second Enter when the first only closed autocomplete). */
	submit(text: string, shows: RegExp): Promise<string>;
	/** Writes the screen to test-output/screens/<prefix>-<name>.txt and returns it. */
	save(name: string): string;
	/** Ends pi and its tmux server, and waits until pi has exited. */
	close(): Promise<void>;
}

let sessions = 0;

export function startTmuxPi(line: PiLine, prefix: string, opts: TmuxPiOptions): TmuxPi {
	// A socket in a temp dir of ours: a private tmux server, removed with the temp dirs.
	const socket = join(makeTempDir("multicodex-tmux-"), `server-${++sessions}`);
	const home = makeTempDir("multicodex-home-");
	const env: Record<string, string> = {
		PATH: process.env.PATH ?? "/usr/bin:/bin",
		HOME: home,
		TERM: "xterm-256color",
		LANG: "C.UTF-8",
		LC_ALL: "C.UTF-8",
		...sandboxVariables(opts),
		...opts.env,
	};
	const command = [
		"env",
		"-i",
		...Object.entries(env).map(([key, value]) => `${key}=${value}`),
		line.node,
		"--import",
		PRELOAD_PATH,
		line.cli,
		"-e",
		opts.extensionPath,
		...opts.args,
	]
		.map(shellQuote)
		.join(" ");
	const tmux = (...args: string[]) =>
		execFileSync("tmux", ["-S", socket, "-f", "/dev/null", ...args], { encoding: "utf8" });
	tmux(
		"new-session",
		"-d",
		"-s",
		"pi",
		"-x",
		String(opts.width ?? 120),
		"-y",
		String(opts.height ?? 40),
		"-c",
		makeTempDir("multicodex-cwd-"),
		command,
		";",
		"set-option",
		"-t",
		"pi",
		"remain-on-exit",
		"on",
	);

	const capture = () => tmux("capture-pane", "-p", "-t", "pi");
	const waitFor = async (pattern: RegExp, timeoutMs = 15_000) => {
		const deadline = Date.now() + timeoutMs;
		let screen = capture();
		while (!pattern.test(screen)) {
			if (Date.now() > deadline) {
				throw new Error(
					`Timed out after ${timeoutMs} ms waiting for ${pattern}; screen:\n${screen}`,
				);
			}
			await new Promise((r) => setTimeout(r, 100));
			screen = capture();
		}
		return screen;
	};
	const press = (...keys: string[]) => {
		tmux("send-keys", "-t", "pi", ...keys);
	};
	return {
		capture,
		type: (text) => {
			tmux("send-keys", "-t", "pi", "-l", text);
		},
		press,
		waitFor,
		async submit(text, shows) {
			tmux("send-keys", "-t", "pi", "-l", text);
			const isInEditor = (screen: string) => screen.split("\n").some((l) => l.trim() === text);
			await waitFor(new RegExp(`^\\s*${text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\s*$`, "m"));
			press("Enter");
			// pi empties the editor when it runs the command; when the first Enter only accepted
			// an autocomplete suggestion the text is still there, and a second Enter submits it.
			const deadline = Date.now() + 15_000;
			let pressedAgain = false;
			while (Date.now() < deadline) {
				await new Promise((r) => setTimeout(r, 250));
				const screen = capture();
				if (shows.test(screen)) return screen;
				if (!pressedAgain && isInEditor(screen)) {
					pressedAgain = true;
					press("Enter");
				}
			}
			return waitFor(shows, 1);
		},
		save(name) {
			const screen = capture();
			mkdirSync(SCREENS_DIR, { recursive: true });
			writeFileSync(join(SCREENS_DIR, `${prefix}-${name}.txt`), screen);
			return screen;
		},
		async close() {
			let pid: number | undefined;
			try {
				pid = Number(tmux("display-message", "-p", "-t", "pi", "#{pane_pid}").trim()) || undefined;
			} catch {
				// The session is already gone: nothing to wait for.
			}
			spawnSync("tmux", ["-S", socket, "kill-server"], { stdio: "ignore" });
			const deadline = Date.now() + 10_000;
			while (pid && isAlive(pid) && Date.now() < deadline) {
				await new Promise((r) => setTimeout(r, 50));
			}
		},
	};
}

function isAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch {
		return false;
	}
}
