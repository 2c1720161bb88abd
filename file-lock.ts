// Cross-process locks around our files (proper-lockfile, pi's convention: a `<file>.lock`
// folder next to the file, stale after 30 s). Several pi windows share one agent dir, so every
// change of a shared file is made under its lock on freshly read data.
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import lockfile from "proper-lockfile";

const STALE_MS = 30_000;
const WAIT_TIMEOUT_MS = 15_000;
const RETRY_SLEEP_MS = 15;

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

function sleepSync(ms: number): void {
	Atomics.wait(sleepCell, 0, 0, ms);
}

function lockOptions(onCompromised: (error: Error) => void) {
	return { stale: STALE_MS, realpath: false, onCompromised };
}

function reportCompromised(path: string): (error: Error) => void {
	// proper-lockfile throws from a timer by default, which would end pi. A compromised lock
	// only means another process took over a lock it considered stale: say so and go on.
	return (error) => {
		process.emitWarning(`multicodex: lock on ${path} was lost (${error.message})`);
	};
}

function isLockBusy(error: unknown): boolean {
	return (error as { code?: string } | undefined)?.code === "ELOCKED";
}

function lockTimeoutError(path: string): Error {
	return new Error(
		`Could not lock ${path} within ${WAIT_TIMEOUT_MS / 1000} s: another pi process holds it. ` +
			`If no other pi is running, remove ${path}.lock and try again.`,
	);
}

/** Runs `fn` while holding the cross-process lock of `path`; blocks briefly while it waits. */
export function withFileLockSync<T>(path: string, fn: () => T): T {
	mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
	const deadline = Date.now() + WAIT_TIMEOUT_MS;
	let release: (() => void) | undefined;
	while (!release) {
		try {
			release = lockfile.lockSync(path, lockOptions(reportCompromised(path)));
		} catch (error) {
			if (!isLockBusy(error)) throw error;
			if (Date.now() > deadline) throw lockTimeoutError(path);
			sleepSync(RETRY_SLEEP_MS);
		}
	}
	try {
		return fn();
	} finally {
		release();
	}
}

/** Async variant for long work (a token refresh): waits without blocking the event loop. */
export async function withFileLock<T>(
	path: string,
	fn: () => Promise<T>,
	options?: { signal?: AbortSignal; timeoutMs?: number },
): Promise<T> {
	mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
	const deadline = Date.now() + (options?.timeoutMs ?? WAIT_TIMEOUT_MS);
	let release: (() => Promise<void>) | undefined;
	while (!release) {
		if (options?.signal?.aborted) throw new Error("Request was aborted");
		try {
			release = await lockfile.lock(path, lockOptions(reportCompromised(path)));
		} catch (error) {
			if (!isLockBusy(error)) throw error;
			if (Date.now() > deadline) throw lockTimeoutError(path);
			await new Promise((resolve) => setTimeout(resolve, 25 + Math.random() * 25));
		}
	}
	try {
		return await fn();
	} finally {
		await release().catch((error: unknown) => {
			process.emitWarning(`multicodex: could not release lock on ${path}: ${String(error)}`);
		});
	}
}
