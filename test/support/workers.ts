// Starts the TypeScript child processes of the concurrency tests (store-worker.ts) on the Node 22
// that the pi 1.x tests use: it runs TypeScript directly and keeps a compile cache, so a writer
// starts in a fraction of a second. Lines on stdout are collected and can be awaited.
import { type ChildProcess, spawn } from "node:child_process";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const NODE22 = join(REPO, "tools/node22/node_modules/.bin/node");

export interface WorkerProcess {
	readonly child: ChildProcess;
	readonly lines: string[];
	readonly stderr: () => string;
	readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
	waitForLine(predicate: (line: string) => boolean, timeoutMs?: number): Promise<string>;
	go(): void;
}

const COMPILE_CACHE = join(tmpdir(), "multicodex-test-compile-cache");

export interface WorkerBundle {
	/** store-worker.ts, with pi's OAuth module replaced (its tests inject every refresh). */
	storeWorker: string;
	/** killable-writer.ts. */
	killableWriter: string;
}

/**
 * Bundles the worker scripts into CommonJS files, which Node 22 starts in well under 100 ms
 * (a hundred writers are started and killed). Same sources, only bundled: storage, locks, zod.
 */
export async function bundleWorkers(outDir: string): Promise<WorkerBundle> {
	const { build } = await import("esbuild");
	const common = {
		bundle: true,
		platform: "node" as const,
		format: "cjs" as const,
		target: "node20",
		logLevel: "error" as const,
		external: ["@mariozechner/*", "@earendil-works/*"],
		// The sources load zod and proper-lockfile on first use with `createRequire(import.meta
		// .url)`; in a CommonJS bundle that URL must still point into the repo to find them.
		define: { "import.meta.url": JSON.stringify(pathToFileURL(join(REPO, "storage.ts")).href) },
	};
	const storeWorker = join(outDir, "store-worker.cjs");
	const killableWriter = join(outDir, "killable-writer.cjs");
	await build({
		...common,
		entryPoints: [join(REPO, "test/support/killable-writer.ts")],
		outfile: killableWriter,
	});
	await build({
		...common,
		entryPoints: [join(REPO, "test/support/store-worker.ts")],
		outfile: storeWorker,
		plugins: [
			{
				name: "no-pi-oauth",
				setup(pluginBuild) {
					pluginBuild.onResolve({ filter: /\/pi-adapter\.ts$/ }, () => ({
						path: "pi-adapter-stub",
						namespace: "stub",
					}));
					pluginBuild.onLoad({ filter: /.*/, namespace: "stub" }, () => ({
						contents:
							"export async function refreshCodexToken() { throw new Error('injected in tests'); }",
						loader: "js",
					}));
				},
			},
		],
	});
	return { storeWorker, killableWriter };
}

/** A bundled store-worker in one of its modes (see store-worker.ts). */
export function startWorker(bundle: WorkerBundle, args: string[]): WorkerProcess {
	return startNode22([bundle.storeWorker, ...args]);
}

/** Any script on Node 22, with the shared compile cache; stdout lines are collected. */
export function startNode22(argv: string[]): WorkerProcess {
	const child = spawn(NODE22, argv, {
		cwd: REPO,
		env: { ...process.env, NODE_COMPILE_CACHE: COMPILE_CACHE },
		stdio: ["pipe", "pipe", "pipe"],
	});
	const lines: string[] = [];
	const waiters = new Set<() => void>();
	let stderr = "";
	let buffer = "";
	let done = false;
	child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
		buffer += chunk;
		const parts = buffer.split("\n");
		buffer = parts.pop() ?? "";
		lines.push(...parts.filter((line) => line.length > 0));
		for (const waiter of [...waiters]) waiter();
	});
	child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
		stderr += chunk;
	});
	const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done_) => {
		child.on("close", (code, signal) => {
			done = true;
			for (const waiter of [...waiters]) waiter();
			done_({ code, signal });
		});
	});
	return {
		child,
		lines,
		stderr: () => stderr,
		exited,
		go: () => {
			child.stdin?.write("go\n");
		},
		waitForLine: (predicate, timeoutMs = 30_000) =>
			new Promise((resolveLine, reject) => {
				const check = () => {
					const found = lines.find(predicate);
					if (found !== undefined) return finish(() => resolveLine(found));
					if (done) {
						finish(() => reject(new Error(`worker exited first: ${stderr.slice(-1500)}`)));
					}
				};
				const timer = setTimeout(
					() => finish(() => reject(new Error(`worker timed out: ${stderr.slice(-1500)}`))),
					timeoutMs,
				);
				const finish = (fn: () => void) => {
					clearTimeout(timer);
					waiters.delete(check);
					fn();
				};
				waiters.add(check);
				check();
			}),
	};
}
