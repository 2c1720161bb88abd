// Cross-process locks around our files (proper-lockfile, pi's convention: a `<file>.lock`
// folder next to the file, stale after 30 s). Several pi windows share one agent dir, so every
// change of a shared file is made under its lock on freshly read data.
//
// Locks on files only we use also record their owner (`owner.json` inside the lock folder:
// pid, host and a nonce). A lock whose owner process is gone (killed while it held the lock) is
// then taken over at once instead of after 30 s. Taking over happens under a second, short lock
// (the `<file>.lock.break` marker), so two waiters never both remove a lock and a live lock is
// never removed. Locks on pi's own files (settings.json) stay plain, because pi's proper-lockfile
// removes a stale lock folder with rmdir, which needs it empty.
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import { hostname } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import type ProperLockfile from "proper-lockfile";

let properLockfile: typeof ProperLockfile | undefined;

/**
 * proper-lockfile, loaded on the first lock through Node's own `require`: most pi runs never
 * write our files, and importing it through pi's extension loader costs start-up time.
 */
function lockfileLib(): typeof ProperLockfile {
	properLockfile ??= createRequire(import.meta.url)("proper-lockfile") as typeof ProperLockfile;
	return properLockfile;
}

const STALE_MS = 30_000;
const WAIT_TIMEOUT_MS = 15_000;
const RETRY_SLEEP_MS = 15;
const OWNER_FILE = "owner.json";
/** Folders moved aside: a released lock, or an abandoned one being taken away. */
const RELEASED_MARK = ".released-";
const ABANDONED_MARK = ".abandoned-";
/** An owner writes its record microseconds after making the lock folder. */
const OWNERLESS_GRACE_MS = 2_000;
/** Taking over a lock takes microseconds; a `.break` marker without pid older than this is left. */
const BREAK_STALE_MS = 5_000;

export interface FileLockOptions {
	/** Record the owner in the lock, so a lock left by a killed process is taken over at once. */
	recordOwner?: boolean;
}

interface LockOwner {
	pid: number;
	host: string;
	/** Unique per acquisition: tells this lock from a later one in the same place. */
	nonce: string;
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

function sleepSync(ms: number): void {
	Atomics.wait(sleepCell, 0, 0, ms);
}

function lockDirOf(path: string): string {
	return `${path}.lock`;
}

function errorCode(error: unknown): string | undefined {
	return (error as NodeJS.ErrnoException | undefined)?.code;
}

/**
 * proper-lockfile removes its lock folder with rmdir, which needs it empty. Ours holds the owner
 * record, so it is first renamed aside (the lock is free in one atomic step, never ownerless),
 * then deleted. A folder left by a release killed half way is removed by the next lock holder.
 */
function removeLockFolder(lockDir: string): void {
	const released = `${lockDir}${RELEASED_MARK}${process.pid}-${randomBytes(4).toString("hex")}`;
	fs.renameSync(lockDir, released);
	try {
		// It holds the owner record only: two calls, where a recursive remove loads more of Node.
		fs.unlinkSync(join(released, OWNER_FILE));
		fs.rmdirSync(released);
	} catch {
		fs.rmSync(released, { recursive: true, force: true });
	}
}

const ownerAwareFs = {
	...fs,
	rmdir: (path: string, callback: (error: NodeJS.ErrnoException | null) => void) => {
		try {
			removeLockFolder(path);
			callback(null);
		} catch (error) {
			callback(error as NodeJS.ErrnoException);
		}
	},
	rmdirSync: (path: string) => removeLockFolder(path),
};

function lockOptions(path: string, options: FileLockOptions) {
	return {
		stale: STALE_MS,
		realpath: false,
		// proper-lockfile throws from a timer by default, which would end pi. A compromised lock
		// only means another process took over a lock it considered stale: say so and go on.
		onCompromised: (error: Error) => {
			process.emitWarning(`multicodex: lock on ${path} was lost (${error.message})`);
		},
		...(options.recordOwner ? { fs: ownerAwareFs } : {}),
	};
}

/**
 * Records this process as the owner. Without the record a waiter would take the lock for an
 * abandoned one after OWNERLESS_GRACE_MS, so a failure to write it gives the lock up.
 */
function writeOwner(path: string, release: () => void): void {
	const owner: LockOwner = {
		pid: process.pid,
		host: hostname(),
		nonce: randomBytes(8).toString("hex"),
	};
	const ownerPath = join(lockDirOf(path), OWNER_FILE);
	try {
		fs.writeFileSync(ownerPath, JSON.stringify(owner), { mode: 0o600 });
	} catch (error) {
		release();
		throw new Error(
			`Could not lock ${path}: writing ${ownerPath} failed (${(error as Error).message}). ` +
				"Free some disk space and try again.",
		);
	}
}

function readOwnerAt(lockDir: string): LockOwner | undefined {
	try {
		const parsed = JSON.parse(fs.readFileSync(join(lockDir, OWNER_FILE), "utf8")) as LockOwner;
		if (typeof parsed.pid !== "number" || typeof parsed.host !== "string") return undefined;
		return { pid: parsed.pid, host: parsed.host, nonce: String(parsed.nonce) };
	} catch {
		return undefined;
	}
}

function isProcessAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (error) {
		// EPERM: it exists but belongs to someone else.
		return errorCode(error) === "EPERM";
	}
}

/** What identifies one lock folder: its owner's nonce, or (no owner) its inode and mtime. */
type LockIdentity = { nonce: string } | { ino: number; mtimeMs: number };

function identityOf(lockDir: string): LockIdentity | undefined {
	const owner = readOwnerAt(lockDir);
	if (owner) return { nonce: owner.nonce };
	try {
		const stats = fs.statSync(lockDir);
		return { ino: stats.ino, mtimeMs: stats.mtimeMs };
	} catch {
		return undefined;
	}
}

function sameIdentity(a: LockIdentity | undefined, b: LockIdentity): boolean {
	return a !== undefined && JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The identity of the lock of `lockDir` when it looks abandoned, else undefined. Abandoned: the
 * recorded owner is a process of this machine that no longer runs, or there is no record long
 * after the folder was made (its owner died between making the folder and writing the record).
 */
function abandonedLock(lockDir: string): LockIdentity | undefined {
	const owner = readOwnerAt(lockDir);
	if (owner) {
		if (owner.host !== hostname() || owner.pid === process.pid) return undefined;
		return isProcessAlive(owner.pid) ? undefined : { nonce: owner.nonce };
	}
	let stats: fs.Stats;
	try {
		stats = fs.statSync(lockDir);
	} catch {
		return undefined;
	}
	if (Date.now() - stats.mtimeMs <= OWNERLESS_GRACE_MS) return undefined;
	return { ino: stats.ino, mtimeMs: stats.mtimeMs };
}

/**
 * The `.break` marker: a file made exclusively (O_EXCL) holding the breaker's pid. Returns false
 * when another live process holds it; a marker of a dead process is removed first.
 */
function takeBreakMarker(marker: string): boolean {
	for (let attempt = 0; attempt < 2; attempt++) {
		try {
			fs.writeFileSync(marker, String(process.pid), { flag: "wx", mode: 0o600 });
			return true;
		} catch (error) {
			if (errorCode(error) !== "EEXIST") return false;
		}
		if (!isBreakMarkerAbandoned(marker)) return false;
		fs.rmSync(marker, { force: true });
	}
	return false;
}

function isBreakMarkerAbandoned(marker: string): boolean {
	try {
		const pid = Number(fs.readFileSync(marker, "utf8"));
		if (Number.isInteger(pid) && pid > 0) return !isProcessAlive(pid);
		return Date.now() - fs.statSync(marker).mtimeMs > BREAK_STALE_MS;
	} catch {
		return false;
	}
}

/**
 * Takes away an abandoned lock, under the `.break` lock so that only one waiter does it and the
 * judgement cannot go stale meanwhile. The folder is renamed aside (atomic) and its identity
 * checked once more before it is deleted. Returns true when the lock was removed.
 */
function breakAbandonedLock(path: string): boolean {
	const lockDir = lockDirOf(path);
	if (!abandonedLock(lockDir)) return false;
	const marker = `${lockDir}.break`;
	if (!takeBreakMarker(marker)) return false;
	try {
		const judged = abandonedLock(lockDir);
		if (!judged) return false;
		const moved = `${lockDir}${ABANDONED_MARK}${process.pid}-${randomBytes(4).toString("hex")}`;
		try {
			fs.renameSync(lockDir, moved);
		} catch {
			return false;
		}
		if (sameIdentity(identityOf(moved), judged)) {
			fs.rmSync(moved, { recursive: true, force: true });
			return true;
		}
		// Only proper-lockfile's own stale removal can have replaced it meanwhile: put it back.
		try {
			fs.renameSync(moved, lockDir);
		} catch {
			fs.rmSync(moved, { recursive: true, force: true });
		}
		return false;
	} finally {
		fs.rmSync(marker, { force: true });
	}
}

/** Removes what a process killed half way left: folders it moved aside, its break marker. */
function removeAbandonedLeftovers(path: string): void {
	const marker = `${lockDirOf(path)}.break`;
	if (fs.existsSync(marker) && isBreakMarkerAbandoned(marker)) fs.rmSync(marker, { force: true });
	const dir = dirname(path);
	const base = basename(lockDirOf(path));
	let names: string[];
	try {
		names = fs.readdirSync(dir);
	} catch {
		return;
	}
	for (const name of names) {
		const mark = [RELEASED_MARK, ABANDONED_MARK].find((m) => name.startsWith(`${base}${m}`));
		if (!mark) continue;
		const pid = Number(name.slice(base.length + mark.length).split("-")[0]);
		if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && !isProcessAlive(pid)) {
			fs.rmSync(join(dir, name), { recursive: true, force: true });
		}
	}
}

function isLockBusy(error: unknown): boolean {
	return errorCode(error) === "ELOCKED";
}

function lockTimeoutError(path: string, waitedMs: number): Error {
	return new Error(
		`Could not lock ${path} within ${Math.round(waitedMs / 1000)} s: another pi process holds it. ` +
			`If no other pi is running, remove ${lockDirOf(path)} and try again.`,
	);
}

/**
 * A free lock taken the way proper-lockfile takes it (an atomic mkdir of the lock folder), without
 * loading proper-lockfile: that costs more of pi's start-up than the rest of the first write.
 * Undefined when the folder exists; then proper-lockfile waits, judges staleness and retries.
 */
function takeFreeLockSync(path: string, options: FileLockOptions): (() => void) | undefined {
	const lockDir = lockDirOf(resolve(path));
	try {
		fs.mkdirSync(lockDir);
	} catch (error) {
		if (errorCode(error) === "EEXIST") return undefined;
		throw error;
	}
	return options.recordOwner ? () => removeLockFolder(lockDir) : () => fs.rmdirSync(lockDir);
}

/** Runs `fn` while holding the cross-process lock of `path`; blocks briefly while it waits. */
export function withFileLockSync<T>(path: string, fn: () => T, options: FileLockOptions = {}): T {
	fs.mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
	const deadline = Date.now() + WAIT_TIMEOUT_MS;
	let release = takeFreeLockSync(path, options);
	while (!release) {
		try {
			release = lockfileLib().lockSync(path, lockOptions(path, options));
		} catch (error) {
			if (!isLockBusy(error)) throw error;
			if (options.recordOwner && breakAbandonedLock(path)) continue;
			if (Date.now() > deadline) throw lockTimeoutError(path, WAIT_TIMEOUT_MS);
			sleepSync(RETRY_SLEEP_MS);
		}
	}
	if (options.recordOwner) {
		writeOwner(path, release);
		removeAbandonedLeftovers(path);
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
	options: FileLockOptions & { signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<T> {
	fs.mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
	const timeoutMs = options.timeoutMs ?? WAIT_TIMEOUT_MS;
	const deadline = Date.now() + timeoutMs;
	let release: (() => Promise<void>) | undefined;
	while (!release) {
		if (options.signal?.aborted) throw new Error("Request was aborted");
		try {
			release = await lockfileLib().lock(path, lockOptions(path, options));
		} catch (error) {
			if (!isLockBusy(error)) throw error;
			if (options.recordOwner && breakAbandonedLock(path)) continue;
			if (Date.now() > deadline) throw lockTimeoutError(path, timeoutMs);
			await new Promise((resolve) => setTimeout(resolve, 25 + Math.random() * 25));
		}
	}
	const releaseLock = release;
	if (options.recordOwner) {
		writeOwner(path, () => void releaseLock().catch(() => undefined));
		removeAbandonedLeftovers(path);
	}
	try {
		return await fn();
	} finally {
		await releaseLock().catch((error: unknown) => {
			process.emitWarning(`multicodex: could not release lock on ${path}: ${String(error)}`);
		});
	}
}
