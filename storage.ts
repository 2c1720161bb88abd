// The accounts file `codex-accounts.json`: its zod schema (the one source of truth, the JSON
// schema in schemas/ is generated from it), migration of older files, salvage of damaged ones,
// and private atomic writes under a cross-process lock.
import {
	chmodSync,
	closeSync,
	copyFileSync,
	fsyncSync,
	mkdirSync,
	openSync,
	renameSync,
	unlinkSync,
	writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { z } from "zod";
import { withFileLockSync } from "./file-lock.ts";
import {
	getAgentPath,
	isJsonObject,
	type JsonFileRead,
	readJsonObjectFileSync,
} from "./provider-utils.ts";

export const CURRENT_VERSION = 1;
export const STORAGE_FILE_NAME = "codex-accounts.json";
export const SCHEMA_URL = "https://unpkg.com/pi-multicodex-plus/schemas/codex-accounts.schema.json";

export const AccountSchema = z
	.object({
		email: z.string().min(1).meta({ description: "Account identifier (usually an e-mail)" }),
		accessToken: z.string().min(1).meta({ description: "OAuth access token (JWT)" }),
		refreshToken: z.string().min(1).meta({ description: "OAuth refresh token" }),
		expiresAt: z.number().meta({ description: "Access token expiry (ms since epoch)" }),
		accountId: z.string().optional().meta({ description: "ChatGPT account id" }),
		lastUsed: z.number().optional().meta({ description: "Last manual selection (ms)" }),
		quotaExhaustedUntil: z.number().optional().meta({ description: "Quota cooldown end (ms)" }),
		needsReauth: z.boolean().optional().meta({ description: "Needs a new login" }),
	})
	.meta({ id: "Account", description: "A managed OpenAI Codex account" });

export const StorageSchema = z
	.object({
		$schema: z.string().optional().meta({ description: "JSON Schema reference for editors" }),
		version: z.number().int().positive().meta({ description: "Storage format version" }),
		accounts: z.array(AccountSchema).meta({ description: "Managed accounts" }),
		activeEmail: z.string().optional().meta({ description: "Identifier of the active account" }),
	})
	.meta({ id: "MultiCodexStorage", description: "MultiCodex managed account storage" });

export type Account = z.infer<typeof AccountSchema>;
export type StorageData = z.infer<typeof StorageSchema>;

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

/** Pure: turns any parsed document into current-format data, salvaging what is valid. */
export function migrateStorage(raw: unknown): MigrationResult {
	if (!isJsonObject(raw)) {
		return { data: emptyStorage(), needsRewrite: false, droppedAccounts: 0, salvaged: true };
	}
	const record: Record<string, unknown> = { ...raw };
	let needsRewrite = false;
	const rawAccounts = Array.isArray(record.accounts)
		? record.accounts
		: isJsonObject(record.accounts)
			? Object.values(record.accounts)
			: [];
	const mapped = rawAccounts.map((entry) => {
		if (!isJsonObject(entry)) return entry;
		if (!LEGACY_ACCOUNT_FIELDS.some((key) => key in entry)) return entry;
		needsRewrite = true;
		const copy = { ...entry };
		for (const key of LEGACY_ACCOUNT_FIELDS) delete copy[key];
		return copy;
	});
	// Only a real array is fixed in place; any other shape must fail the schema and be salvaged.
	if (Array.isArray(record.accounts)) record.accounts = mapped;
	if (typeof record.version !== "number") {
		record.version = CURRENT_VERSION;
		needsRewrite = true;
	}
	const whole = StorageSchema.safeParse(record);
	if (whole.success) {
		return { data: whole.data, needsRewrite, droppedAccounts: 0, salvaged: false };
	}
	const accounts: Account[] = [];
	for (const entry of mapped) {
		const parsed = AccountSchema.safeParse(entry);
		if (parsed.success) accounts.push(parsed.data);
	}
	const activeEmail =
		typeof record.activeEmail === "string" && accounts.some((a) => a.email === record.activeEmail)
			? record.activeEmail
			: undefined;
	return {
		data: { version: CURRENT_VERSION, accounts, activeEmail },
		needsRewrite: true,
		droppedAccounts: rawAccounts.length - accounts.length,
		salvaged: true,
	};
}

/** Pretty JSON, `$schema` and `version` first. */
export function serializeStorage(data: StorageData): string {
	const output = {
		$schema: SCHEMA_URL,
		version: CURRENT_VERSION,
		accounts: data.accounts,
		activeEmail: data.activeEmail,
	};
	return `${JSON.stringify(output, null, 2)}\n`;
}

/** Writes `text` to `path` atomically (temp file + rename in the same folder), mode 0600. */
export function writePrivateFileAtomic(path: string, text: string): void {
	const dir = dirname(path);
	mkdirSync(dir, { recursive: true, mode: 0o700 });
	const tempPath = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
	const fd = openSync(tempPath, "w", 0o600);
	try {
		writeSync(fd, text);
		fsyncSync(fd);
	} finally {
		closeSync(fd);
	}
	try {
		chmodSync(tempPath, 0o600);
		renameSync(tempPath, path);
	} catch (error) {
		try {
			unlinkSync(tempPath);
		} catch {
			// The temp file is already gone; the rename error below is what matters.
		}
		throw error;
	}
}

/** Copies a damaged file aside, byte for byte, and returns where it went. */
export function backupDamagedFile(path: string, now = Date.now()): string {
	const stamp = new Date(now).toISOString().replace(/[:.]/g, "-");
	const backupPath = `${path}.damaged-${stamp}`;
	copyFileSync(path, backupPath);
	chmodSync(backupPath, 0o600);
	return backupPath;
}

export type StorageWarning = (message: string) => void;

export interface AccountStoreOptions {
	/** Resolves the file path at call time (default: `<agent dir>/codex-accounts.json`). */
	path?: () => string;
	onWarning?: StorageWarning;
}

/**
 * The accounts file. Reads never throw away data: a damaged file is copied aside before
 * anything is written over it. Every update runs under the file's cross-process lock on a
 * fresh read, so no other process's change is lost.
 */
export class AccountStore {
	private readonly resolvePath: () => string;
	private onWarning: StorageWarning | undefined;
	/** Damaged files already copied aside in this process (by content), so we warn once. */
	private readonly backedUp = new Map<string, string>();

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

	/** Reads the current data; migrates (under the lock) when the file is in an old format. */
	load(): StorageData {
		const path = this.path;
		const result = this.readAndMigrate(path);
		if (!result.needsRewrite) return result.data;
		return withFileLockSync(path, () => {
			const fresh = this.readAndMigrate(path);
			// A damaged file with nothing to salvage stays as it is (its copy is kept aside too)
			// until a real change is saved: never replace it with an empty list on a mere read.
			const nothingSalvaged = fresh.salvaged && fresh.data.accounts.length === 0;
			if (fresh.needsRewrite && !nothingSalvaged) {
				writePrivateFileAtomic(path, serializeStorage(fresh.data));
			}
			return fresh.data;
		});
	}

	/**
	 * Applies `mutate` to freshly read data under the lock and writes the result when it
	 * changed. Returns the data as written (or as read, when nothing changed).
	 */
	update(mutate: (data: StorageData) => void): StorageData {
		const path = this.path;
		return withFileLockSync(path, () => {
			const fresh = this.readAndMigrate(path);
			const before = serializeStorage(fresh.data);
			mutate(fresh.data);
			const after = serializeStorage(fresh.data);
			if (after !== before || fresh.needsRewrite) writePrivateFileAtomic(path, after);
			return fresh.data;
		});
	}

	private readAndMigrate(path: string): MigrationResult {
		let read: JsonFileRead;
		try {
			read = readJsonObjectFileSync(path);
		} catch (error) {
			throw new Error(
				`Cannot read ${path}: ${(error as Error).message}. Fix its permissions; nothing was changed.`,
			);
		}
		if (read.kind === "missing") {
			return { data: emptyStorage(), needsRewrite: false, droppedAccounts: 0, salvaged: false };
		}
		if (read.kind === "damaged") {
			const salvaged = salvageFromText(read.text);
			this.keepDamagedCopy(path, read.text, `${read.reason}`, salvaged.accounts.length);
			return {
				data: salvaged,
				needsRewrite: true,
				droppedAccounts: 0,
				salvaged: true,
			};
		}
		const migrated = migrateStorage(read.value);
		if (migrated.salvaged) {
			this.keepDamagedCopy(
				path,
				read.text,
				`${migrated.droppedAccounts} account entr${migrated.droppedAccounts === 1 ? "y is" : "ies are"} invalid`,
				migrated.data.accounts.length,
			);
		}
		return migrated;
	}

	private keepDamagedCopy(path: string, text: string, reason: string, kept: number): void {
		if (this.backedUp.has(text)) return;
		const backupPath = backupDamagedFile(path);
		this.backedUp.set(text, backupPath);
		this.onWarning?.(
			`Multicodex: ${path} was damaged (${reason}). A copy is kept at ${backupPath}; ` +
				`${kept} valid account(s) were kept. Check the copy for accounts to add again.`,
		);
	}
}

/** Best effort for a file that is not valid JSON: pull out complete account objects. */
function salvageFromText(text: string): StorageData {
	const accounts: Account[] = [];
	const objectPattern = /\{[^{}]*\}/g;
	for (const match of text.matchAll(objectPattern)) {
		try {
			const parsed = AccountSchema.safeParse(JSON.parse(match[0]));
			if (parsed.success && !accounts.some((a) => a.email === parsed.data.email)) {
				accounts.push(parsed.data);
			}
		} catch {
			// Not a complete object: this fragment is lost, the backup copy still has it.
		}
	}
	return { version: CURRENT_VERSION, accounts };
}
