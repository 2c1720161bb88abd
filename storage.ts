// The accounts file `codex-accounts.json`: its zod schema (the one source of truth, the JSON
// schema in schemas/ is generated from it), migration of older files, salvage of damaged ones,
// and private atomic writes under a cross-process lock.
import { randomBytes } from "node:crypto";
import {
	chmodSync,
	closeSync,
	copyFileSync,
	constants as fsConstants,
	fstatSync,
	fsyncSync,
	mkdirSync,
	openSync,
	readdirSync,
	readFileSync,
	realpathSync,
	renameSync,
	type Stats,
	statSync,
	unlinkSync,
	writeFileSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { withFileLockSync } from "./file-lock.ts";
import {
	getAgentPath,
	isJsonObject,
	normalizeUnknownError,
	rememberSecrets,
} from "./provider-utils.ts";
import {
	type Account,
	getStorageSchemas,
	parseCurrentStorage,
	type StorageData,
} from "./storage-schema.ts";

export const CURRENT_VERSION = 1;
export const STORAGE_FILE_NAME = "codex-accounts.json";
export const SCHEMA_URL = "https://unpkg.com/pi-multicodex-plus/schemas/codex-accounts.schema.json";

export type { Account, StorageData } from "./storage-schema.ts";

const LEGACY_ACCOUNT_FIELDS = ["importSource", "importMode", "importFingerprint"] as const;

export function emptyStorage(): StorageData {
	return { version: CURRENT_VERSION, accounts: [] };
}

export interface MigrationResult {
	data: StorageData;
	/** The file should be rewritten in the current format (version added or legacy fields). */
	needsRewrite: boolean;
	/** Accounts that failed the schema and were left out (salvage). */
	droppedAccounts: number;
	/** The document itself failed the schema; only accounts valid on their own were kept. */
	salvaged: boolean;
}

const DOCUMENT_KEYS = new Set(["$schema", "version", "accounts", "activeEmail"]);

/** The entries of `accounts`: an array as written, or the values of an object (hand edits). */
function accountEntries(value: unknown): unknown[] | undefined {
	if (Array.isArray(value)) return value;
	if (isJsonObject(value)) return Object.values(value);
	return undefined;
}

/** Pure: turns any parsed document into current-format data, salvaging what is valid. */
export function migrateStorage(raw: unknown): MigrationResult {
	if (!isJsonObject(raw)) {
		return { data: emptyStorage(), needsRewrite: false, droppedAccounts: 0, salvaged: true };
	}
	const record: Record<string, unknown> = { ...raw };
	let needsRewrite = false;
	if (Array.isArray(record.accounts)) {
		record.accounts = record.accounts.map((entry) => {
			if (!isJsonObject(entry)) return entry;
			if (!LEGACY_ACCOUNT_FIELDS.some((key) => key in entry)) return entry;
			needsRewrite = true;
			const copy = { ...entry };
			for (const key of LEGACY_ACCOUNT_FIELDS) delete copy[key];
			return copy;
		});
	} else if (record.accounts === undefined) {
		const unknown = Object.keys(record).filter((key) => !DOCUMENT_KEYS.has(key));
		// Without accounts but with other keys (a misspelt `accounts`?) the file is damaged:
		// salvage what those keys hold. Without any, it is simply an empty list.
		if (unknown.length > 0) {
			const candidates = unknown.flatMap((key) => [
				record[key],
				...(accountEntries(record[key]) ?? []),
			]);
			return salvageEntries(candidates, record.activeEmail);
		}
		record.accounts = [];
	}
	if (typeof record.version !== "number") {
		record.version = CURRENT_VERSION;
		needsRewrite = true;
	}
	// A healthy file needs no zod: the fast check gives what the schema would.
	const current = parseCurrentStorage(record);
	if (current) return { data: current, needsRewrite, droppedAccounts: 0, salvaged: false };
	const whole = getStorageSchemas().storage.safeParse(record);
	if (whole.success) {
		return { data: whole.data, needsRewrite, droppedAccounts: 0, salvaged: false };
	}
	return salvageEntries(accountEntries(record.accounts) ?? [], record.activeEmail);
}

/** Keeps each account that is valid on its own (legacy fields removed), drops the rest. */
function salvageEntries(entries: unknown[], activeEmail: unknown): MigrationResult {
	const accounts: Account[] = [];
	for (const entry of entries) {
		const candidate = isJsonObject(entry) ? { ...entry } : entry;
		if (isJsonObject(candidate)) for (const key of LEGACY_ACCOUNT_FIELDS) delete candidate[key];
		const parsed = getStorageSchemas().account.safeParse(candidate);
		if (parsed.success && !accounts.some((a) => a.email === parsed.data.email)) {
			accounts.push(parsed.data);
		}
	}
	const active =
		typeof activeEmail === "string" && accounts.some((a) => a.email === activeEmail)
			? activeEmail
			: undefined;
	return {
		data: { version: CURRENT_VERSION, accounts, activeEmail: active },
		needsRewrite: true,
		droppedAccounts: entries.length - accounts.length,
		salvaged: true,
	};
}

/** Pretty JSON, `$schema` and `version` first; keys this version does not know last, kept. */
export function serializeStorage(data: StorageData): string {
	const unknownKeys = Object.entries(data).filter(([key]) => !DOCUMENT_KEYS.has(key));
	const output = {
		$schema: SCHEMA_URL,
		version: CURRENT_VERSION,
		accounts: data.accounts,
		activeEmail: data.activeEmail,
		...Object.fromEntries(unknownKeys),
	};
	return `${JSON.stringify(output, null, 2)}\n`;
}

function isMissing(error: unknown): boolean {
	return (error as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
}

/** The file a path names, following symlinks (a dotfiles setup may link our files). */
function resolveTarget(path: string): string {
	try {
		return realpathSync(path);
	} catch (error) {
		if (isMissing(error)) return path;
		throw error;
	}
}

const TEMP_SUFFIX = ".tmp";

function tempPrefix(target: string): string {
	return `.${basename(target)}.`;
}

function isProcessGone(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return false;
	} catch (error) {
		return (error as NodeJS.ErrnoException).code === "ESRCH";
	}
}

/** Removes temp files a killed writer left next to `target` (their pid is in the name). */
function removeOrphanTempFiles(target: string): void {
	const dir = dirname(target);
	const prefix = tempPrefix(target);
	let names: string[];
	try {
		names = readdirSync(dir);
	} catch {
		return;
	}
	for (const name of names) {
		if (!name.startsWith(prefix) || !name.endsWith(TEMP_SUFFIX)) continue;
		const pid = Number(name.slice(prefix.length).split(".")[0]);
		if (!Number.isInteger(pid) || pid <= 0 || !isProcessGone(pid)) continue;
		try {
			unlinkSync(join(dir, name));
		} catch {
			// Another writer removed it first.
		}
	}
}

/**
 * Writes `text` to `path` atomically (temp file + rename in the same folder), mode 0600; the
 * folder is created 0700 when missing. A symlinked path is written through to its target.
 * A reader sees the old or the new content, never a mix, even if this process is killed.
 */
export function writePrivateFileAtomic(path: string, text: string): void {
	const target = resolveTarget(path);
	const dir = dirname(target);
	mkdirSync(dir, { recursive: true, mode: 0o700 });
	removeOrphanTempFiles(target);
	const tempPath = join(
		dir,
		`${tempPrefix(target)}${process.pid}.${randomBytes(6).toString("hex")}${TEMP_SUFFIX}`,
	);
	try {
		const fd = openSync(tempPath, "wx", 0o600);
		try {
			writeFileSync(fd, text);
			fsyncSync(fd);
		} finally {
			closeSync(fd);
		}
		chmodSync(tempPath, 0o600);
		renameSync(tempPath, target);
	} catch (error) {
		try {
			unlinkSync(tempPath);
		} catch {
			// The temp file is already gone (or was never made); the error below is what matters.
		}
		throw error;
	}
	syncDirectory(dir);
}

/** Makes the rename itself durable (best effort: not every platform can fsync a folder). */
function syncDirectory(dir: string): void {
	let fd: number | undefined;
	try {
		fd = openSync(dir, "r");
		fsyncSync(fd);
	} catch {
		// Windows and some file systems refuse; the rename is still atomic.
	} finally {
		if (fd !== undefined) closeSync(fd);
	}
}

/** Copies a damaged file aside, byte for byte (never over an earlier copy); returns where. */
export function backupDamagedFile(path: string, now = Date.now()): string {
	const stamp = new Date(now).toISOString().replace(/[:.]/g, "-");
	const base = `${path}.damaged-${stamp}`;
	for (let attempt = 0; ; attempt++) {
		const backupPath = attempt === 0 ? base : `${base}-${attempt}`;
		try {
			copyFileSync(path, backupPath, fsConstants.COPYFILE_EXCL);
			chmodSync(backupPath, 0o600);
			return backupPath;
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== "EEXIST" || attempt >= 100) throw error;
		}
	}
}

export type StorageWarning = (message: string) => void;

export interface AccountStoreOptions {
	/** Resolves the file path at call time (default: `<agent dir>/codex-accounts.json`). */
	path?: () => string;
	onWarning?: StorageWarning;
}

/** What identifies one version of the file on disk (an atomic write always makes a new inode). */
function fileSignature(stats: Stats | undefined): string {
	return stats ? `${stats.ino}:${stats.size}:${stats.mtimeMs}:${stats.ctimeMs}` : "missing";
}

/** The signature of the file now (one stat); a failing stat has a signature of its own. */
function currentSignature(path: string): string {
	try {
		return fileSignature(statSync(path));
	} catch (error) {
		if (isMissing(error)) return fileSignature(undefined);
		return `error:${(error as NodeJS.ErrnoException).code ?? "unknown"}`;
	}
}

/**
 * Tells whether a file changed on disk since it was last read, with one `stat` (no read): how
 * settings another pi process saved reach this one (B7). `markRead()` just before each read;
 * `hasChanged()` is false until the first one. The path is resolved at each call.
 */
export class FileChangeWatch {
	private readVersion: string | undefined;

	constructor(private readonly path: () => string) {}

	markRead(): void {
		this.readVersion = this.version();
	}

	hasChanged(): boolean {
		return this.readVersion !== undefined && this.version() !== this.readVersion;
	}

	private version(): string {
		const path = this.path();
		return `${path}:${currentSignature(path)}`;
	}
}

interface TextRead {
	text?: string;
	signature: string;
}

/** Reads the file and the signature of exactly what was read (fstat of the same descriptor). */
function readTextWithSignature(path: string): TextRead {
	let fd: number;
	try {
		fd = openSync(path, "r");
	} catch (error) {
		if (isMissing(error)) return { signature: fileSignature(undefined) };
		throw error;
	}
	try {
		const signature = fileSignature(fstatSync(fd));
		return { text: readFileSync(fd, "utf8"), signature };
	} finally {
		closeSync(fd);
	}
}

/**
 * The accounts file. Reads never throw away data: a damaged file is copied aside (under the
 * lock, once) before anything is written over it, and a file that cannot be read at all is
 * never written. Every update runs under the file's cross-process lock on a fresh read, so
 * no other process's change is lost.
 */
export class AccountStore {
	private readonly resolvePath: () => string;
	private onWarning: StorageWarning | undefined;
	/** Damaged files already copied aside in this process (by content), so we warn once. */
	private readonly backedUp = new Map<string, string>();
	/** Path and signature of the file as this store last read or wrote it. */
	private lastSeen?: { path: string; signature: string };
	/**
	 * The text this store last read (healthy) or wrote, with its data: a file whose content is
	 * unchanged is not parsed and validated again. Compared by content, not by stat signature,
	 * because updates rely on it under the lock and a reused inode can repeat a signature.
	 */
	private lastRead?: { path: string; text: string; data: StorageData };

	constructor(options: AccountStoreOptions = {}) {
		this.resolvePath = options.path ?? (() => getAgentPath(STORAGE_FILE_NAME));
		this.onWarning = options.onWarning;
	}

	get path(): string {
		return this.resolvePath();
	}

	setWarningHandler(handler: StorageWarning | undefined): void {
		this.onWarning = handler;
	}

	/**
	 * Cheap check (one stat) whether the file changed since this store last read or wrote it,
	 * e.g. because another pi process saved a cooldown or a new account.
	 */
	hasChangedOnDisk(): boolean {
		const path = this.path;
		if (!this.lastSeen || this.lastSeen.path !== path) return true;
		return currentSignature(path) !== this.lastSeen.signature;
	}

	/**
	 * Reads the current data without repairing anything: no lock, no copy, no warning, no write.
	 * For the first look at start-up, before there is anyone to tell; load() repairs later.
	 */
	peek(): StorageData {
		return this.readAndMigrate(this.path, false).data;
	}

	/** Reads the current data; a damaged or old-format file is repaired under the lock. */
	load(): StorageData {
		const path = this.path;
		const result = this.readAndMigrate(path, false);
		if (!result.needsRewrite) return result.data;
		return withFileLockSync(
			path,
			() => {
				const fresh = this.readAndMigrate(path, true);
				if (fresh.needsRewrite) this.write(path, serializeStorage(fresh.data));
				return fresh.data;
			},
			LOCK_OPTIONS,
		);
	}

	/**
	 * Applies `mutate` to freshly read data under the lock and writes the result when it
	 * changed. Returns the data as written (or as read, when nothing changed).
	 */
	update(mutate: (data: StorageData) => void): StorageData {
		const path = this.path;
		return withFileLockSync(
			path,
			() => {
				const fresh = this.readAndMigrate(path, true);
				const before = serializeStorage(fresh.data);
				mutate(fresh.data);
				const after = serializeStorage(fresh.data);
				if (after !== before || fresh.needsRewrite) {
					this.write(path, after);
					this.lastRead = { path, text: after, data: copyStorage(fresh.data) };
				}
				return fresh.data;
			},
			LOCK_OPTIONS,
		);
	}

	/** Only called under the lock: nobody else writes between our rename and our stat. */
	private write(path: string, text: string): void {
		writePrivateFileAtomic(path, text);
		this.lastSeen = { path, signature: fileSignature(statSync(path)) };
	}

	/**
	 * Reads and migrates. `underLock`: a damaged file is copied aside and reported here; an
	 * unlocked read only notices the damage, and the locked re-read in load() handles it once.
	 */
	private readAndMigrate(path: string, underLock: boolean): MigrationResult {
		let read: TextRead;
		try {
			read = readTextWithSignature(path);
		} catch (error) {
			// Remember this version of the file, so hasChangedOnDisk() does not retry it forever.
			this.lastSeen = { path, signature: currentSignature(path) };
			throw new Error(
				`Cannot read ${path} (${normalizeUnknownError(error)}). Fix its permissions and try ` +
					"again; nothing was changed.",
			);
		}
		this.lastSeen = { path, signature: read.signature };
		if (read.text === undefined) {
			return { data: emptyStorage(), needsRewrite: false, droppedAccounts: 0, salvaged: false };
		}
		const known = this.lastRead;
		if (known?.path === path && known.text === read.text) {
			// Same bytes as last time: same data (its secrets were remembered then).
			const data = copyStorage(known.data);
			return { data, needsRewrite: false, droppedAccounts: 0, salvaged: false };
		}
		const parsed = parseJsonText(read.text);
		let result: MigrationResult;
		let reason: string;
		if (parsed.ok) {
			// A bare list of accounts (a hand edit) still holds accounts worth keeping.
			result = Array.isArray(parsed.value)
				? salvageEntries(parsed.value, undefined)
				: migrateStorage(parsed.value);
			reason = describeSchemaDamage(parsed.value, result.droppedAccounts);
		} else {
			result = { ...salvageFromText(read.text), salvaged: true, needsRewrite: true };
			reason = parsed.reason;
		}
		for (const account of result.data.accounts) {
			rememberSecrets(account.accessToken, account.refreshToken);
		}
		if (result.salvaged && underLock) {
			this.keepDamagedCopy(path, read.text, reason, result.data.accounts.length);
		}
		if (!result.salvaged && !result.needsRewrite) {
			this.lastRead = { path, text: read.text, data: copyStorage(result.data) };
		}
		return result;
	}

	private keepDamagedCopy(path: string, text: string, reason: string, kept: number): void {
		if (this.backedUp.has(text)) return;
		let backupPath: string;
		try {
			backupPath = backupDamagedFile(path);
		} catch (error) {
			throw new Error(
				`${path} is damaged (${reason}) and a copy could not be kept ` +
					`(${normalizeUnknownError(error)}); nothing was changed. Free some disk space or ` +
					"fix the folder's permissions, then try again.",
			);
		}
		this.backedUp.set(text, backupPath);
		this.onWarning?.(
			`Multicodex: ${path} was damaged (${reason}). A copy is kept at ${backupPath}; ` +
				`${kept} valid account(s) were kept. Check the copy for accounts to add again ` +
				"with /multicodex use <identifier>.",
		);
	}
}

const LOCK_OPTIONS = { recordOwner: true } as const;

/** A copy callers may change freely (an account holds only plain values). */
function copyStorage(data: StorageData): StorageData {
	return { ...data, accounts: data.accounts.map((account) => ({ ...account })) };
}

function parseJsonText(text: string): { ok: true; value: unknown } | { ok: false; reason: string } {
	try {
		return { ok: true, value: JSON.parse(text) };
	} catch (error) {
		const kind = text.trim() === "" ? "empty" : "not valid JSON";
		return { ok: false, reason: `${kind}: ${normalizeUnknownError(error)}` };
	}
}

function describeSchemaDamage(value: unknown, dropped: number): string {
	if (Array.isArray(value)) return "a list instead of the accounts document";
	if (!isJsonObject(value)) return "the top level is not a JSON object";
	const parts: string[] = [];
	if (value.accounts === undefined) parts.push("`accounts` is missing");
	else if (!Array.isArray(value.accounts)) parts.push("`accounts` is not a list");
	if (dropped > 0) {
		parts.push(`${dropped} account entr${dropped === 1 ? "y is" : "ies are"} invalid`);
	}
	if (parts.length === 0) parts.push("a field outside the accounts does not match the format");
	return parts.join("; ");
}

/** Best effort for a file that is not valid JSON: pull out complete account objects. */
function salvageFromText(text: string): Omit<MigrationResult, "salvaged" | "needsRewrite"> {
	const candidates: unknown[] = [];
	const objectPattern = /\{[^{}]*\}/g;
	for (const match of text.matchAll(objectPattern)) {
		try {
			candidates.push(JSON.parse(match[0]));
		} catch {
			// Not a complete object: this fragment is lost, the backup copy still has it.
		}
	}
	const salvaged = salvageEntries(candidates, undefined);
	return { data: salvaged.data, droppedAccounts: 0 };
}
