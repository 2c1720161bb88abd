// Account state and policy: the managed accounts (through the store), pi's own login (memory
// only), the manual pin, usage cache, cooldowns and token validity.
import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import { loadImportedOpenAICodexAuth } from "./auth.ts";
import { withFileLock } from "./file-lock.ts";
import { type CodexCredentials, refreshCodexToken } from "./pi-adapter.ts";
import {
	abortable,
	normalizeUnknownError,
	redactSecrets,
	rememberSecrets,
} from "./provider-utils.ts";
import type { QuotaSignal } from "./quota.ts";
import {
	DEFAULT_ROTATION_SETTINGS,
	isUsageStrategy,
	type RotationSettings,
	RotationSettingsFile,
} from "./rotation-settings.ts";
import { chooseAccount, hasSeveralUsableAccounts, isAccountAvailable } from "./selection.ts";
import { type Account, AccountStore, emptyStorage, type StorageData } from "./storage.ts";
import { type CodexUsageSnapshot, getNextResetAt } from "./usage.ts";
import { USAGE_CACHE_FILE_NAME, UsageCacheFile } from "./usage-cache.ts";
import type { UsageFetcher } from "./usage-client.ts";

const USAGE_CACHE_TTL_MS = 5 * 60 * 1000;
const USAGE_REQUEST_TIMEOUT_MS = 10 * 1000;
const TOKEN_EXPIRY_MARGIN_MS = 5 * 60 * 1000;
export const QUOTA_COOLDOWN_MS = 60 * 60 * 1000;
const RATE_LIMIT_COOLDOWN_MS = 60 * 1000;
/** How long a choice waits for usage when nothing at all is known yet. */
export const SELECTION_USAGE_WAIT_MS = 50;
const MAX_USAGE_REQUESTS_IN_FLIGHT = 8;
const USAGE_SAVE_DELAY_MS = 1000;

type WarningHandler = (message: string) => void;
type ChoiceOptions = { excludeEmails?: Set<string>; signal?: AbortSignal; sticky?: boolean };
type StateChangeHandler = () => void;

/**
 * State that lives as long as the pi process, not the extension instance: pi 0.73 evaluates
 * the module again on /new, /resume, /fork and /reload, and the manual pin must survive that.
 */
export interface ProcessState {
	manualEmail?: string;
	usageCache: Map<string, CodexUsageSnapshot>;
}

export function createProcessState(): ProcessState {
	return { usageCache: new Map() };
}

export interface AccountManagerOptions {
	store?: AccountStore;
	usageCacheFile?: UsageCacheFile;
	processState?: ProcessState;
	fetchUsage?: UsageFetcher;
	refreshToken?: (refreshToken: string, signal?: AbortSignal) => Promise<CodexCredentials>;
	loadPiAuth?: typeof loadImportedOpenAICodexAuth;
	now?: () => number;
	/** How long one OAuth refresh may take (default 15 s). */
	refreshTimeoutMs?: number;
	/** Where the rotation settings are read from (default: pi's settings.json). */
	rotationSettingsFile?: RotationSettingsFile;
}

function credentialsAccountId(creds: CodexCredentials): string | undefined {
	return typeof creds.accountId === "string" && creds.accountId ? creds.accountId : undefined;
}

/** How long one OAuth refresh may take (pi 1.x uses the same bound for its own login). */
const REFRESH_TIMEOUT_MS = 15_000;
/** How long a refresh waits for another window's refresh of the same account. */
const REFRESH_LOCK_WAIT_MS = 30_000;

class RefreshTimeoutError extends Error {
	constructor(ms: number) {
		super(`the OpenAI login server did not answer within ${ms / 1000} s`);
		this.name = "RefreshTimeoutError";
	}
}

/** pi's refresh errors carry the HTTP status in parentheses: `… refresh failed (503): …`. */
const TEMPORARY_REFRESH_FAILURE =
	/\((?:408|429|5\d\d)\)|refresh error:|fetch failed|timed? ?out|ECONN\w*|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EPIPE|socket hang up|network|aborted/i;

function isTemporaryRefreshFailure(error: unknown, message: string): boolean {
	return error instanceof RefreshTimeoutError || TEMPORARY_REFRESH_FAILURE.test(message);
}

function lockKey(email: string): string {
	return createHash("sha256").update(email).digest("hex").slice(0, 16);
}

/**
 * Changes made on the request path: applied in memory at once, saved a moment later (off the
 * request path) under the file's lock, merged into whatever the file holds then.
 */
interface PendingAccountChanges {
	activeEmail?: string;
	/** Cooldown ends by account; the file keeps the later of its own and ours. */
	cooldowns: Map<string, number>;
	/** Cooldowns that had ended by this time are cleared. */
	clearCooldownsEndedBy?: number;
	/** Accounts found to have a plan without Codex (B3), flagged `codexNotIncluded`. */
	codexNotIncluded: Set<string>;
}

function noPendingChanges(): PendingAccountChanges {
	return { cooldowns: new Map(), codexNotIncluded: new Set() };
}

function hasPendingChanges(changes: PendingAccountChanges): boolean {
	return (
		changes.activeEmail !== undefined ||
		changes.cooldowns.size > 0 ||
		changes.clearCooldownsEndedBy !== undefined ||
		changes.codexNotIncluded.size > 0
	);
}

/** Merges our changes into `data` (fresh from the file): never shortens another's cooldown. */
function applyPendingChanges(data: StorageData, changes: PendingAccountChanges): void {
	if (!hasPendingChanges(changes)) return;
	const byEmail = new Map(data.accounts.map((account) => [account.email, account]));
	for (const [email, until] of changes.cooldowns) {
		const account = byEmail.get(email);
		if (account) account.quotaExhaustedUntil = Math.max(account.quotaExhaustedUntil ?? 0, until);
	}
	for (const email of changes.codexNotIncluded) {
		const account = byEmail.get(email);
		if (account) account.codexNotIncluded = true;
	}
	const endedBy = changes.clearCooldownsEndedBy;
	if (endedBy !== undefined) {
		for (const account of data.accounts) {
			if (account.quotaExhaustedUntil && account.quotaExhaustedUntil <= endedBy) {
				account.quotaExhaustedUntil = undefined;
			}
		}
	}
	if (changes.activeEmail !== undefined && byEmail.has(changes.activeEmail)) {
		data.activeEmail = changes.activeEmail;
	}
}

/** One choice's view: when it is made and which accounts this request already tried. */
interface Choice {
	now: number;
	excludeEmails?: Set<string>;
}

/** Whether the account can be chosen for this request (usable, not excluded). */
function isCandidate(account: Account, choice: Choice): boolean {
	return isAccountAvailable(account, choice.now) && !choice.excludeEmails?.has(account.email);
}

/** The usage endpoint's client, loaded on the first request: many runs make none. */
const fetchCodexUsageOnDemand: UsageFetcher = async (...args) =>
	(await import("./usage-client.ts")).fetchCodexUsage(...args);

export class AccountManager {
	/** The managed accounts as last read or written; read them through `data`. */
	private stored: StorageData = emptyStorage();
	/** Set while `data` re-reads the file, so a warning raised meanwhile does not re-enter. */
	private syncingWithDisk = false;
	/** Set inside `withOneDiskCheck`: the file was just checked, reads of `data` need no stat. */
	private isDiskCheckPaused = false;
	/** Applied in memory, not yet in the file; saved by `saveTimer` or the next update. */
	private pendingChanges = noPendingChanges();
	private saveTimer?: ReturnType<typeof setImmediate>;
	/** The list the last staleness scan found fully fresh, and until when it stays so. */
	private freshUsage?: { accounts: Account[]; until: number };
	/** Managed accounts plus pi's login as one list that keeps its identity while both do. */
	private accountList?: { managed: Account[]; piAuth: Account; all: Account[] };
	private piAuthAccount?: Account;
	private readonly store: AccountStore;
	private readonly state: ProcessState;
	private readonly fetchUsage: UsageFetcher;
	private readonly refreshTokenWith: NonNullable<AccountManagerOptions["refreshToken"]>;
	private readonly loadPiAuthFile: typeof loadImportedOpenAICodexAuth;
	private readonly now: () => number;
	private readonly refreshTimeoutMs: number;
	private readonly refreshPromises = new Map<string, Promise<string>>();
	private readonly usageRequests = new Map<string, Promise<CodexUsageSnapshot | undefined>>();
	private readonly usageCacheFile: UsageCacheFile;
	private usageSaveTimer?: ReturnType<typeof setTimeout>;
	private usageRequestsInFlight = 0;
	private readonly usageSlotWaiters: (() => void)[] = [];
	/** Aborted when the session ends, so no background request outlives it. */
	private background = new AbortController();
	private rotation: RotationSettings = DEFAULT_ROTATION_SETTINGS;
	private readonly rotationFile: RotationSettingsFile;
	/** The account this session is on, chosen or pinned, kept between turns (stickiness). */
	private sessionEmail?: string;
	/**
	 * Set when the session's account was picked at random because no usage was known of any
	 * account to choose from: the next choice may correct it once, when usage is known by then.
	 */
	private isSessionChoiceBlind = false;
	private readonly stateChangeHandlers = new Set<StateChangeHandler>();
	private readonly warnedAuthFailureEmails = new Set<string>();
	/** Accounts whose usage fetch keeps failing and that were warned of it already. */
	private readonly warnedUsageFailureEmails = new Set<string>();
	private warningHandler?: WarningHandler;
	private readonly pendingWarnings: string[] = [];
	private readyPromise: Promise<void> = Promise.resolve();
	private readyResolve?: () => void;

	constructor(options: AccountManagerOptions = {}) {
		this.store = options.store ?? new AccountStore();
		this.state = options.processState ?? createProcessState();
		this.fetchUsage = options.fetchUsage ?? fetchCodexUsageOnDemand;
		this.refreshTokenWith = options.refreshToken ?? refreshCodexToken;
		this.loadPiAuthFile = options.loadPiAuth ?? loadImportedOpenAICodexAuth;
		this.now = options.now ?? Date.now;
		this.refreshTimeoutMs = options.refreshTimeoutMs ?? REFRESH_TIMEOUT_MS;
		this.rotationFile = options.rotationSettingsFile ?? new RotationSettingsFile();
		this.store.setWarningHandler((message) => this.warn(message));
		this.stored = this.loadInitialData();
		// The usage cache lives next to the accounts file, wherever that is.
		this.usageCacheFile =
			options.usageCacheFile ??
			new UsageCacheFile(() => join(dirname(this.store.path), USAGE_CACHE_FILE_NAME));
		this.loadPersistedUsage();
	}

	/**
	 * The first look at the accounts file. A damaged file is only read here (salvaged in memory):
	 * it is copied aside, reported and repaired by the first reloadFromDisk() or update, when
	 * pi has a session to show the warning in.
	 */
	private loadInitialData(): StorageData {
		try {
			return this.store.peek();
		} catch (error) {
			// Keep going without managed accounts; nothing is written until a fresh read works.
			queueMicrotask(() => this.warn(`Multicodex: ${normalizeUnknownError(error)}`));
			return emptyStorage();
		}
	}

	/**
	 * The managed accounts. Another pi process may have changed the file (a cooldown, a new or
	 * removed account, refreshed tokens): one stat per access notices that, and the file is then
	 * read again, so every window sees it without a restart.
	 */
	private get data(): StorageData {
		if (!this.isDiskCheckPaused) this.syncWithDisk();
		return this.stored;
	}

	private set data(value: StorageData) {
		this.stored = value;
	}

	/** Re-reads the file when it changed since we last read or wrote it (one stat). */
	private syncWithDisk(): void {
		if (this.syncingWithDisk || !this.store.hasChangedOnDisk()) return;
		this.syncingWithDisk = true;
		try {
			this.adoptFromDisk(this.store.load());
			queueMicrotask(() => this.notifyStateChanged());
		} catch (error) {
			this.warn(`Multicodex: ${normalizeUnknownError(error)}`);
		} finally {
			this.syncingWithDisk = false;
		}
	}

	/**
	 * Runs `fn` (synchronous) with one look at the file for all of it: a choice among 1,000
	 * accounts reads `data` many times, and a stat each time adds up.
	 */
	private withOneDiskCheck<T>(fn: () => T): T {
		if (this.isDiskCheckPaused) return fn();
		this.syncWithDisk();
		this.isDiskCheckPaused = true;
		try {
			return fn();
		} finally {
			this.isDiskCheckPaused = false;
		}
	}

	/** All accounts (as `getAccounts`), the same array while nothing changed, without a stat. */
	private currentAccounts(): Account[] {
		const managed = this.stored.accounts;
		const piAuth = this.piAuthAccount;
		if (!piAuth) return managed;
		const known = this.accountList;
		if (known?.managed === managed && known.piAuth === piAuth) return known.all;
		const all = [...managed, piAuth];
		this.accountList = { managed, piAuth, all };
		return all;
	}

	/**
	 * Takes the file's data, keeping this window's choice of pi's login (never persisted) and
	 * the changes this window has made but not saved yet.
	 */
	private adoptFromDisk(next: StorageData): void {
		applyPendingChanges(next, this.pendingChanges);
		this.stored = this.keepingPiAuthActive(next);
	}

	/**
	 * The file's data as this window sees it: pi's login stays active when this window chose it
	 * (the file never names it), and it leaves the list once the file holds an account of the
	 * same identifier (added in another window): the managed one is used from then on (A4).
	 */
	private keepingPiAuthActive(next: StorageData, keepActive = true): StorageData {
		const piEmail = this.piAuthAccount?.email;
		if (piEmail === undefined) return next;
		if (next.accounts.some((a) => a.email === piEmail)) {
			this.piAuthAccount = undefined;
			return next;
		}
		return keepActive && this.stored.activeEmail === piEmail
			? { ...next, activeEmail: piEmail }
			: next;
	}

	// -- ready gate -----------------------------------------------------------

	beginInitialization(): void {
		if (this.readyResolve) return;
		this.readyPromise = new Promise<void>((resolve) => {
			this.readyResolve = resolve;
		});
	}

	markReady(): void {
		this.readyResolve?.();
		this.readyResolve = undefined;
	}

	waitUntilReady(): Promise<void> {
		return this.readyPromise;
	}

	// -- notifications --------------------------------------------------------

	onStateChange(handler: StateChangeHandler): () => void {
		this.stateChangeHandlers.add(handler);
		return () => this.stateChangeHandlers.delete(handler);
	}

	private notifyStateChanged(): void {
		for (const handler of this.stateChangeHandlers) {
			try {
				handler();
			} catch (error) {
				this.warn(`Multicodex: footer update failed: ${normalizeUnknownError(error)}`);
			}
		}
	}

	setWarningHandler(handler?: WarningHandler): void {
		this.warningHandler = handler;
		if (!handler) return;
		for (const message of this.pendingWarnings.splice(0)) handler(message);
	}

	/**
	 * Every message shown to the user goes through here, with secrets removed. Messages raised
	 * before a handler is set are kept and shown when one is.
	 */
	warn(message: string): void {
		const redacted = this.redact(message);
		if (this.warningHandler) this.warningHandler(redacted);
		else if (this.pendingWarnings.length < 20) this.pendingWarnings.push(redacted);
	}

	/** Removes every token we hold (and anything token-shaped) from a message. */
	redact(message: string): string {
		// From memory only (no re-read of the file): a warning may be raised while it is locked.
		const accounts = this.piAuthAccount
			? [...this.stored.accounts, this.piAuthAccount]
			: this.stored.accounts;
		const secrets: string[] = [];
		for (const account of accounts) secrets.push(account.accessToken, account.refreshToken);
		return redactSecrets(message, secrets);
	}

	resetSessionWarnings(): void {
		this.warnedAuthFailureEmails.clear();
		this.warnedUsageFailureEmails.clear();
	}

	repairCommandFor(account: Account): string {
		return this.isPiAuthAccount(account)
			? "/login openai-codex"
			: `/multicodex reauth ${account.email}`;
	}

	notifyRotationSkipForAuthFailure(account: Account, error: unknown): void {
		if (this.warnedAuthFailureEmails.has(account.email)) return;
		this.warnedAuthFailureEmails.add(account.email);
		const reason = normalizeUnknownError(error).replace(/\.$/, "");
		// Token errors say what to do themselves (a temporary failure: try again first).
		const advice = /\/(multicodex|login)\b/.test(reason)
			? ""
			: ` Run ${this.repairCommandFor(account)} to repair it.`;
		this.warn(`Multicodex skipped ${account.email} during rotation: ${reason}.${advice}`);
	}

	// -- reading state ----------------------------------------------------------

	getStoragePath(): string {
		return this.store.path;
	}

	/** Re-reads the accounts file (another pi process may have changed it). */
	reloadFromDisk(): void {
		try {
			this.adoptFromDisk(this.store.load());
			this.notifyStateChanged();
		} catch (error) {
			this.warn(`Multicodex: ${normalizeUnknownError(error)}`);
		}
	}

	getAccounts(): Account[] {
		// The file first: a re-read may drop pi's login (a managed account took its identifier).
		const managed = this.data.accounts;
		return this.piAuthAccount ? [...managed, this.piAuthAccount] : managed;
	}

	getManagedAccounts(): Account[] {
		return this.data.accounts;
	}

	getAccount(email: string): Account | undefined {
		const managed = this.data.accounts;
		if (this.piAuthAccount?.email === email) return this.piAuthAccount;
		return managed.find((a) => a.email === email);
	}

	isPiAuthAccount(account: Account): boolean {
		return this.piAuthAccount !== undefined && account.email === this.piAuthAccount.email;
	}

	getPiAuthAccount(): Account | undefined {
		return this.piAuthAccount;
	}

	getActiveAccount(): Account | undefined {
		const manual = this.getManualAccount();
		if (manual) return manual;
		if (this.data.activeEmail) {
			const active = this.getAccount(this.data.activeEmail);
			if (active) return active;
		}
		return this.getAccounts()[0];
	}

	getManualAccount(): Account | undefined {
		if (!this.state.manualEmail) return undefined;
		const account = this.getAccount(this.state.manualEmail);
		if (!account) {
			this.state.manualEmail = undefined;
			return undefined;
		}
		return account;
	}

	hasManualAccount(): boolean {
		return Boolean(this.state.manualEmail);
	}

	getAvailableManualAccount(options?: {
		excludeEmails?: Set<string>;
		now?: number;
	}): Account | undefined {
		const manual = this.getManualAccount();
		if (!manual) return undefined;
		if (!isAccountAvailable(manual, options?.now ?? this.now())) return undefined;
		if (options?.excludeEmails?.has(manual.email)) return undefined;
		return manual;
	}

	getCachedUsage(email: string): CodexUsageSnapshot | undefined {
		return this.state.usageCache.get(email);
	}

	getAccountsNeedingReauth(): Account[] {
		return this.getAccounts().filter((a) => a.needsReauth);
	}

	// -- changing state -----------------------------------------------------------

	/** Applies a change to the managed accounts under the file lock, on fresh data. */
	private updateManaged(mutate: (data: StorageData) => void): void {
		// Changes not saved yet go with this write, before the newer change.
		const pending = this.pendingChanges;
		this.pendingChanges = noPendingChanges();
		try {
			let choseActive = false;
			const written = this.store.update((data) => {
				applyPendingChanges(data, pending);
				const before = data.activeEmail;
				mutate(data);
				choseActive = data.activeEmail !== before;
			});
			// A change that names the active account itself (a login, a removal) wins over pi's login.
			this.data = this.keepingPiAuthActive(written, !choseActive);
		} catch (error) {
			this.pendingChanges = pending;
			throw error;
		}
		for (const account of this.stored.accounts) {
			rememberSecrets(account.accessToken, account.refreshToken);
		}
		this.notifyStateChanged();
	}

	/**
	 * The account a request of this session goes to outside the rotation's choice (the manual
	 * pin): it becomes the session's account, which later choices keep once the pin is gone (B6).
	 */
	setActiveAccount(email: string): void {
		this.sessionEmail = email;
		this.isSessionChoiceBlind = false;
		this.activate(email);
	}

	/** Makes an account the active one: in memory at once, in the file a moment later. */
	private activate(email: string): void {
		if (this.piAuthAccount?.email === email) {
			// pi's login is never persisted: the file keeps the last managed account, and an
			// earlier managed choice not saved yet is dropped (it is no longer the active one).
			this.pendingChanges.activeEmail = undefined;
			this.data = { ...this.data, activeEmail: email };
			this.notifyStateChanged();
			return;
		}
		if (this.data.activeEmail === email) return;
		// In effect at once; saved a moment later, off the request path.
		this.stored = { ...this.stored, activeEmail: email };
		this.pendingChanges.activeEmail = email;
		this.scheduleSave();
		this.notifyStateChanged();
	}

	/** Saves the pending changes once the current work is done (coalesced, next loop turn). */
	private scheduleSave(): void {
		if (this.saveTimer) return;
		this.saveTimer = setImmediate(() => {
			this.saveTimer = undefined;
			this.savePendingChanges();
		});
	}

	/** Writes the changes made in memory only, now, under the lock on fresh data. */
	private writePendingChanges(): void {
		if (this.saveTimer) clearImmediate(this.saveTimer);
		this.saveTimer = undefined;
		if (hasPendingChanges(this.pendingChanges)) this.updateManaged(() => undefined);
	}

	/** As `writePendingChanges`; a failure is reported and the changes kept for the next write. */
	private savePendingChanges(): void {
		try {
			this.writePendingChanges();
		} catch (error) {
			this.warn(
				`Multicodex: could not save the active account, cooldowns and flags to ${this.store.path} ` +
					`(${normalizeUnknownError(error)}); this window keeps them and saves them with the ` +
					"next change.",
			);
		}
	}

	setManualAccount(email: string): void {
		const account = this.getAccount(email);
		if (!account) return;
		this.state.manualEmail = email;
		if (!this.isPiAuthAccount(account)) {
			// The pin stays in memory; the account it makes active is saved like any choice (A3).
			this.updateManaged((data) => {
				const stored = data.accounts.find((a) => a.email === email);
				if (stored) stored.lastUsed = this.now();
				data.activeEmail = email;
			});
		} else {
			this.activate(email);
		}
	}

	clearManualAccount(): void {
		if (!this.state.manualEmail) return;
		this.state.manualEmail = undefined;
		this.notifyStateChanged();
	}

	addOrUpdateAccount(email: string, creds: CodexCredentials): Account {
		const accountId = credentialsAccountId(creds);
		this.updateManaged((data) => {
			const existing = data.accounts.find((a) => a.email === email);
			if (existing) {
				existing.accessToken = creds.access;
				existing.refreshToken = creds.refresh;
				existing.expiresAt = creds.expires;
				if (accountId) existing.accountId = accountId;
				existing.needsReauth = undefined;
				// A new login may come with another plan: try it again.
				existing.codexNotIncluded = undefined;
				return;
			}
			data.accounts.push({
				email,
				accessToken: creds.access,
				refreshToken: creds.refresh,
				expiresAt: creds.expires,
				accountId,
			});
			data.activeEmail = email;
		});
		this.warnedAuthFailureEmails.delete(email);
		if (this.piAuthAccount?.email === email) this.piAuthAccount = undefined;
		return this.getAccount(email) as Account;
	}

	removeAccount(email: string): boolean {
		if (!this.data.accounts.some((a) => a.email === email)) {
			this.reloadFromDisk();
			if (!this.data.accounts.some((a) => a.email === email)) return false;
		}
		this.updateManaged((data) => {
			data.accounts = data.accounts.filter((a) => a.email !== email);
			if (data.activeEmail === email) data.activeEmail = data.accounts[0]?.email;
		});
		this.state.usageCache.delete(email);
		if (this.state.manualEmail === email) this.state.manualEmail = undefined;
		return true;
	}

	/** Cools an account down until `until` and saves that before returning. */
	markExhausted(email: string, until: number): void {
		if (this.coolDown(email, until)) this.writePendingChanges();
	}

	/**
	 * Cools an account down in memory at once (the retry and the footer see it) and saves it a
	 * moment later, off the request path; other pi windows read it from the file within
	 * milliseconds. Returns whether there is something to save (pi's login is never saved).
	 */
	private coolDown(email: string, until: number): boolean {
		const account = this.getAccount(email);
		if (!account) return false;
		if (this.isPiAuthAccount(account)) {
			account.quotaExhaustedUntil = until;
			this.notifyStateChanged();
			return false;
		}
		account.quotaExhaustedUntil = Math.max(account.quotaExhaustedUntil ?? 0, until);
		const cooldowns = this.pendingChanges.cooldowns;
		cooldowns.set(email, Math.max(cooldowns.get(email) ?? 0, until));
		this.scheduleSave();
		this.notifyStateChanged();
		return true;
	}

	/**
	 * Clears every cooldown and every "plan without Codex" flag (`reset quota|all`). Returns the
	 * number of accounts that had either.
	 */
	clearAllQuotaExhaustion(): number {
		let cleared = 0;
		const clear = (account: Account) => {
			if (!account.quotaExhaustedUntil && !account.codexNotIncluded) return;
			account.quotaExhaustedUntil = undefined;
			account.codexNotIncluded = undefined;
			cleared += 1;
		};
		if (this.piAuthAccount) clear(this.piAuthAccount);
		this.updateManaged((data) => {
			for (const account of data.accounts) clear(account);
		});
		return cleared;
	}

	/** Clears cooldowns that have ended, in memory at once; the file follows a moment later. */
	private clearExpiredExhaustion(now: number): void {
		if (this.piAuthAccount?.quotaExhaustedUntil && this.piAuthAccount.quotaExhaustedUntil <= now) {
			this.piAuthAccount.quotaExhaustedUntil = undefined;
		}
		let cleared = false;
		for (const account of this.data.accounts) {
			if (account.quotaExhaustedUntil && account.quotaExhaustedUntil <= now) {
				account.quotaExhaustedUntil = undefined;
				cleared = true;
			}
		}
		if (!cleared) return;
		const pending = this.pendingChanges;
		pending.clearCooldownsEndedBy = Math.max(pending.clearCooldownsEndedBy ?? 0, now);
		this.scheduleSave();
		this.notifyStateChanged();
	}

	private markNeedsReauth(email: string): void {
		if (this.piAuthAccount?.email === email) {
			this.piAuthAccount.needsReauth = true;
			this.notifyStateChanged();
			return;
		}
		this.updateManaged((data) => {
			const stored = data.accounts.find((a) => a.email === email);
			if (stored) stored.needsReauth = true;
		});
	}

	/**
	 * Flags an account whose plan does not include Codex (B3): it is not used again until a new
	 * login or `reset quota`. In effect at once, saved a moment later like a cooldown (off the
	 * request path); pi's login is flagged in memory only.
	 */
	private flagCodexNotIncluded(email: string): void {
		const account = this.getAccount(email);
		if (!account) return;
		account.codexNotIncluded = true;
		if (!this.isPiAuthAccount(account)) {
			this.pendingChanges.codexNotIncluded.add(email);
			this.scheduleSave();
		}
		this.notifyStateChanged();
	}

	// -- pi's own login ---------------------------------------------------------

	/** Loads pi's login from auth.json into memory (never written anywhere by us). */
	async loadPiAuth(): Promise<void> {
		const imported = await this.loadPiAuthFile();
		const alreadyManaged =
			imported && this.data.accounts.some((a) => a.email === imported.identifier);
		if (!imported || alreadyManaged) {
			this.piAuthAccount = undefined;
		} else {
			// The same login keeps its cooldown and its "plan without Codex" flag.
			const previous =
				this.piAuthAccount?.email === imported.identifier ? this.piAuthAccount : undefined;
			this.piAuthAccount = {
				email: imported.identifier,
				accessToken: imported.credentials.access,
				refreshToken: imported.credentials.refresh,
				expiresAt: imported.credentials.expires,
				accountId: imported.credentials.accountId,
				quotaExhaustedUntil: previous?.quotaExhaustedUntil,
			};
			if (previous?.codexNotIncluded) this.piAuthAccount.codexNotIncluded = true;
		}
		this.notifyStateChanged();
	}

	// -- usage ------------------------------------------------------------------

	/** Stores usage read from an answer's headers or stream events (no request needed). */
	recordUsage(email: string, usage: Omit<CodexUsageSnapshot, "fetchedAt">): void {
		const previous = this.state.usageCache.get(email);
		this.state.usageCache.set(email, {
			primary: usage.primary ?? previous?.primary,
			secondary: usage.secondary ?? previous?.secondary,
			fetchedAt: this.now(),
		});
		this.scheduleUsageCacheSave();
		this.notifyStateChanged();
	}

	/** Adopts snapshots persisted by earlier runs or other pi windows when they are newer. */
	private loadPersistedUsage(): void {
		for (const [email, snapshot] of this.usageCacheFile.load()) {
			const known = this.state.usageCache.get(email);
			if (!known || known.fetchedAt < snapshot.fetchedAt)
				this.state.usageCache.set(email, snapshot);
		}
	}

	private scheduleUsageCacheSave(): void {
		if (this.usageSaveTimer) return;
		this.usageSaveTimer = setTimeout(() => this.flushUsageCache(), USAGE_SAVE_DELAY_MS);
		this.usageSaveTimer.unref?.();
	}

	/** Writes pending usage snapshots now (also when the session ends); nothing new, no write. */
	flushUsageCache(): void {
		if (!this.usageSaveTimer) return;
		clearTimeout(this.usageSaveTimer);
		this.usageSaveTimer = undefined;
		try {
			const known = new Set(this.getAccounts().map((a) => a.email));
			this.usageCacheFile.save(this.state.usageCache, known);
		} catch (error) {
			this.warn(`Multicodex: could not save the usage cache: ${normalizeUnknownError(error)}`);
		}
	}

	/**
	 * Cancels background usage requests and saves what is still pending: the active account,
	 * cooldowns and usage snapshots (pi is shutting the session down).
	 */
	cancelBackgroundWork(): void {
		this.background.abort(new Error("session ended"));
		this.background = new AbortController();
		this.savePendingChanges();
		this.flushUsageCache();
	}

	private isUsageFresh(email: string, now = this.now()): boolean {
		const cached = this.state.usageCache.get(email);
		return cached !== undefined && now - cached.fetchedAt < USAGE_CACHE_TTL_MS;
	}

	/** Runs `task` when one of the few usage request slots is free (B5: bounded concurrency). */
	private async withUsageSlot<T>(task: () => Promise<T>): Promise<T> {
		while (this.usageRequestsInFlight >= MAX_USAGE_REQUESTS_IN_FLIGHT) {
			await new Promise<void>((resolve) => this.usageSlotWaiters.push(resolve));
		}
		this.usageRequestsInFlight++;
		try {
			return await task();
		} finally {
			this.usageRequestsInFlight--;
			this.usageSlotWaiters.shift()?.();
		}
	}

	/** How many usage requests are running now (for tests and benchmarks). */
	getUsageRequestsInFlight(): number {
		return this.usageRequestsInFlight;
	}

	async refreshUsageForAccount(
		account: Account,
		options?: { force?: boolean; signal?: AbortSignal },
	): Promise<CodexUsageSnapshot | undefined> {
		const email = account.email;
		const cached = this.state.usageCache.get(email);
		const current = this.getAccount(email);
		if (!current || current.needsReauth) return cached;
		// An account without Codex is not used: its usage only on explicit request.
		if (current.codexNotIncluded && !options?.force) return cached;
		if (!options?.force && this.isUsageFresh(email)) return cached;
		const inflight = this.usageRequests.get(email);
		if (inflight) return inflight;
		const signal = options?.signal
			? AbortSignal.any([options.signal, this.background.signal])
			: this.background.signal;
		const request = this.withUsageSlot(async () => {
			try {
				if (signal.aborted) return cached;
				const token = await this.ensureValidToken(current, signal);
				const usage = await this.fetchUsage(token, current.accountId, {
					signal,
					timeoutMs: USAGE_REQUEST_TIMEOUT_MS,
				});
				if (!this.getAccount(email)) return undefined;
				this.state.usageCache.set(email, usage);
				this.warnedUsageFailureEmails.delete(email);
				this.scheduleUsageCacheSave();
				this.notifyStateChanged();
				return usage;
			} catch (error) {
				if (!signal.aborted) this.warnUsageFailure(email, error);
				return undefined;
			}
		}).finally(() => this.usageRequests.delete(email));
		this.usageRequests.set(email, request);
		return request;
	}

	/**
	 * Warns of a failed usage fetch once per failure streak: while the endpoint keeps failing,
	 * the footer's refresh every minute would repeat it. A fetch that works ends the streak.
	 */
	private warnUsageFailure(email: string, error: unknown): void {
		if (this.warnedUsageFailureEmails.has(email)) return;
		this.warnedUsageFailureEmails.add(email);
		const reason = normalizeUnknownError(error).replace(/\.$/, "");
		const advice = this.usageFailureAdvice(email, reason);
		this.warn(
			`Multicodex: failed to fetch usage for ${email}: ${reason}.${advice ? ` ${advice}` : ""}`,
		);
	}

	private usageFailureAdvice(email: string, reason: string): string | undefined {
		const account = this.getAccount(email);
		// Flagged or gone (pi's login expired): the token error already names the repair command.
		if (!account || account.needsReauth) return undefined;
		if (/\bHTTP 40[13]\b/.test(reason)) {
			return `Its login was refused: run ${this.repairCommandFor(account)} to log in again.`;
		}
		return "The footer keeps the last numbers it has and tries again later.";
	}

	async refreshUsageForAllAccounts(options?: {
		force?: boolean;
		signal?: AbortSignal;
	}): Promise<void> {
		await Promise.all(
			this.getAccounts().map((account) => this.refreshUsageForAccount(account, options)),
		);
	}

	/**
	 * Refreshes (in the background) the accounts whose cached usage is older than 5 minutes.
	 * Once a list was found fresh, it is not scanned again until its earliest usage can expire.
	 */
	async refreshUsageIfStale(
		accounts: Account[],
		options?: { signal?: AbortSignal },
	): Promise<void> {
		const now = this.now();
		const known = this.freshUsage;
		if (known?.accounts === accounts && now < known.until) return;
		const refreshes = this.withOneDiskCheck(() => {
			const stale: Promise<unknown>[] = [];
			let until = Number.POSITIVE_INFINITY;
			for (const account of accounts) {
				// Accounts that are not used (a new login needed, a plan without Codex) are not fetched.
				if (account.needsReauth || account.codexNotIncluded) continue;
				const fetchedAt = this.state.usageCache.get(account.email)?.fetchedAt;
				if (fetchedAt !== undefined && now - fetchedAt < USAGE_CACHE_TTL_MS) {
					until = Math.min(until, fetchedAt + USAGE_CACHE_TTL_MS);
				} else {
					stale.push(this.refreshUsageForAccount(account, { force: true, ...options }));
				}
			}
			// Only a scan that found nothing to fetch may be skipped next time.
			this.freshUsage = stale.length === 0 ? { accounts, until } : undefined;
			return stale;
		});
		await Promise.all(refreshes);
	}

	// -- selection ----------------------------------------------------------------

	setRotationSettings(settings: RotationSettings): void {
		this.rotation = settings;
	}

	/** The settings in force: when another pi window saved a change, that change (B7). */
	getRotationSettings(): RotationSettings {
		this.followRotationSettings();
		return this.rotation;
	}

	/**
	 * Reads the rotation settings from settings.json and puts them in force; from then on every
	 * choice follows the file (one stat tells when it changed). A damaged file: the defaults.
	 */
	loadRotationSettings(): RotationSettings {
		try {
			this.rotation = this.rotationFile.read();
		} catch (error) {
			this.rotation = DEFAULT_ROTATION_SETTINGS;
			this.warn(
				`Multicodex: rotation settings not loaded, using defaults: ${normalizeUnknownError(error)}`,
			);
		}
		return this.rotation;
	}

	/** Re-reads the rotation settings when settings.json changed on disk since the last read. */
	private followRotationSettings(): void {
		if (!this.rotationFile.hasChanged()) return;
		try {
			this.rotation = this.rotationFile.read();
		} catch (error) {
			this.warn(
				`Multicodex: the rotation settings changed on disk but cannot be read ` +
					`(${normalizeUnknownError(error)}); the settings in force stay until the file is fixed.`,
			);
		}
	}

	/**
	 * Chooses the account for a request or a session. `sticky` keeps the session's current
	 * account while it is usable (B6); without it the choice is made afresh (A3). A slow usage
	 * endpoint never holds a request: stale usage is refreshed in the background, and only when
	 * nothing is known of the accounts to choose from does the choice wait, briefly, for the first
	 * answers (B5).
	 */
	async activateBestAccount(options?: ChoiceOptions): Promise<Account | undefined> {
		// One look at the file for the whole choice (a second only after waiting for usage).
		const first = this.withOneDiskCheck(() => {
			this.followRotationSettings();
			this.clearExpiredExhaustion(this.now());
			const accounts = this.currentAccounts();
			const choice = { now: this.now(), excludeEmails: options?.excludeEmails };
			const kept = options?.sticky ? this.sessionEmail : undefined;
			const keptAccount = kept === undefined ? undefined : accounts.find((a) => a.email === kept);
			const rechoose = kept !== undefined && this.takeBlindChoiceCorrection(accounts, kept, choice);
			// With one usable account there is nothing to choose: no usage request for it (its
			// answer brings its numbers anyway).
			if (!hasSeveralUsableAccounts(accounts, choice)) {
				return { selected: this.chooseAndActivate(options) };
			}
			// While the session keeps its account, the others' usage is not needed: the answers keep
			// the kept account's numbers current, and normal work makes no usage requests (B4). An
			// account that cannot be kept (out of quota, excluded by this request) makes this a fresh
			// choice, which waits briefly when nothing is known of the others.
			if (keptAccount && isCandidate(keptAccount, choice)) {
				const selected = this.chooseAndActivate(options, rechoose);
				if (selected?.email === kept) return { selected };
				void this.refreshUsageIfStale(accounts, { signal: options?.signal }).catch((error) =>
					this.warn(`Multicodex: usage refresh failed: ${normalizeUnknownError(error)}`),
				);
				return { selected };
			}
			const refresh = this.refreshUsageIfStale(accounts, { signal: options?.signal });
			if (this.knowsUsageOfACandidate(accounts, choice)) {
				return { selected: this.chooseAndActivate(options) };
			}
			return { refresh };
		});
		if ("selected" in first) return first.selected;
		let timer: ReturnType<typeof setTimeout> | undefined;
		await Promise.race([
			first.refresh,
			new Promise<void>((resolve) => {
				timer = setTimeout(resolve, SELECTION_USAGE_WAIT_MS);
			}),
		]);
		clearTimeout(timer);
		return this.withOneDiskCheck(() => this.chooseAndActivate(options));
	}

	/**
	 * Whether usage is known of an account this choice is among (usable, not excluded; other than
	 * `except`). The usage of the others, e.g. the one a 429 answer just excluded, does not help.
	 */
	private knowsUsageOfACandidate(accounts: Account[], choice: Choice, except?: string): boolean {
		return accounts.some(
			(a) => a.email !== except && isCandidate(a, choice) && this.state.usageCache.has(a.email),
		);
	}

	/**
	 * Whether the session's account, picked at random with no usage known, is chosen again now
	 * (once: the flag is spent by the first choice after it). Only when usage of another account
	 * to choose from is known by now; otherwise the account stays, as any kept account does.
	 */
	private takeBlindChoiceCorrection(accounts: Account[], kept: string, choice: Choice): boolean {
		if (!this.isSessionChoiceBlind) return false;
		this.isSessionChoiceBlind = false;
		return this.knowsUsageOfACandidate(accounts, choice, kept);
	}

	/**
	 * The choice itself (A3 with B6's policy) on the data in memory; activates the result. With
	 * `rechoose` the session's account gets no preference (the one correction of a blind pick).
	 */
	private chooseAndActivate(options?: ChoiceOptions, rechoose = false): Account | undefined {
		const settings = this.rotation;
		const accounts = this.currentAccounts();
		const now = this.now();
		const current = options?.sticky && !rechoose ? this.sessionEmail : undefined;
		const selected = chooseAccount(accounts, this.state.usageCache, {
			excludeEmails: options?.excludeEmails,
			now,
			strategy: settings.strategy,
			preferUntouched: settings.preferUntouched,
			currentEmail: current,
			proactiveSwitchPercent: options?.sticky ? settings.proactiveSwitchPercent : undefined,
			// A new session's round-robin goes on after the account the last session used.
			previousEmail: this.stored.activeEmail,
			unsavedEmail: this.piAuthAccount?.email,
		});
		if (!selected) return undefined;
		if (selected.email !== current) {
			const choice = { now, excludeEmails: options?.excludeEmails };
			// A random pick: the strategy goes by usage, and none was known of the accounts to choose from.
			this.isSessionChoiceBlind =
				isUsageStrategy(settings.strategy) &&
				hasSeveralUsableAccounts(accounts, choice) &&
				!this.knowsUsageOfACandidate(accounts, choice);
		}
		this.sessionEmail = selected.email;
		this.activate(selected.email);
		return selected;
	}

	/** 2.3.1's quota handling: refresh usage, then cool down until the next reset (or 1 h). */
	async handleQuotaExceeded(account: Account, options?: { signal?: AbortSignal }): Promise<void> {
		const usage = await this.refreshUsageForAccount(account, {
			force: true,
			signal: options?.signal,
		});
		const now = this.now();
		const resetAt = getNextResetAt(usage);
		this.markExhausted(account.email, resetAt && resetAt > now ? resetAt : now + QUOTA_COOLDOWN_MS);
	}

	/**
	 * Fast quota handling from what the answer itself said (B3): no request waits for a usage
	 * fetch, nor for the cooldown to be written (it is in effect at once, in the file a moment
	 * later). Returns a message for the user when the account cannot be used at all.
	 */
	applyQuotaSignal(account: Account, signal: QuotaSignal): string | undefined {
		const now = this.now();
		if (signal.usage) this.recordUsage(account.email, signal.usage);
		if (signal.kind === "usage_not_included") {
			// Waiting does not help here: the account stays out until a new login or a reset.
			this.flagCodexNotIncluded(account.email);
			return (
				`Multicodex: ${account.email} cannot use Codex (its ChatGPT plan does not include it) ` +
				`and is no longer used until it is logged in again (/multicodex reauth ${account.email} ` +
				`or /multicodex use ${account.email}) or /multicodex reset quota is run.`
			);
		}
		// A plain rate limit says nothing about the plan's windows: only its own retry time counts.
		const isRateLimit = signal.kind === "rate_limited";
		const fallback = isRateLimit
			? RATE_LIMIT_COOLDOWN_MS
			: this.rotation.fallbackCooldownMinutes * 60_000;
		const known =
			signal.resetAt ??
			(isRateLimit ? undefined : getNextResetAt(this.state.usageCache.get(account.email)));
		this.coolDown(account.email, known && known > now ? known : now + fallback);
		if (signal.kind === "usage_limit_reached" && signal.resetAt === undefined) {
			// The answer had no reset time: learn it in the background and correct the cooldown.
			void this.refreshUsageForAccount(account, { force: true })
				.then((usage) => {
					const resetAt = getNextResetAt(usage);
					if (resetAt && resetAt > this.now()) this.coolDown(account.email, resetAt);
				})
				.catch((error: unknown) =>
					this.warn(
						`Multicodex: cooldown of ${account.email} not updated: ${normalizeUnknownError(error)}`,
					),
				);
		}
		return undefined;
	}

	/** The earliest moment an account comes back, for the "all exhausted" message. */
	getEarliestCooldownEnd(): { email: string; until: number } | undefined {
		let best: { email: string; until: number } | undefined;
		for (const account of this.getAccounts()) {
			if (account.needsReauth || account.codexNotIncluded || !account.quotaExhaustedUntil) continue;
			if (!best || account.quotaExhaustedUntil < best.until) {
				best = { email: account.email, until: account.quotaExhaustedUntil };
			}
		}
		return best;
	}

	// -- tokens -------------------------------------------------------------------

	async ensureValidToken(account: Account, signal?: AbortSignal): Promise<string> {
		const current = this.getAccount(account.email) ?? account;
		if (current.needsReauth) {
			throw new Error(
				`${current.email}: re-authentication required — run ${
					this.isPiAuthAccount(current) ? "/login openai-codex" : `/multicodex use ${current.email}`
				}`,
			);
		}
		if (this.now() < current.expiresAt - TOKEN_EXPIRY_MARGIN_MS) return current.accessToken;
		if (this.isPiAuthAccount(current)) return this.ensureValidTokenForPiAuth(current);
		let shared = this.refreshPromises.get(current.email);
		if (!shared) {
			// One refresh per account for every caller; it is not tied to any caller's signal, because
			// a refresh that already spent the single-use refresh token must still be saved.
			shared = this.refreshManagedToken(current.email).finally(() => {
				this.refreshPromises.delete(current.email);
			});
			this.refreshPromises.set(current.email, shared);
		}
		return abortable(shared, signal);
	}

	/**
	 * Refreshes under a per-account cross-process lock: a refresh token is single use, so when
	 * another pi process refreshed first we adopt its result instead of refreshing again. The
	 * refresh itself is bounded by `refreshTimeoutMs` (15 s); an answer that arrives later is still
	 * saved, so a token spent by a slow server is not lost.
	 */
	private async refreshManagedToken(email: string): Promise<string> {
		const lockPath = `${this.store.path}.refresh-${lockKey(email)}`;
		return withFileLock(
			lockPath,
			async () => {
				this.reloadFromDisk();
				const stored = this.stored.accounts.find((a) => a.email === email);
				if (!stored) {
					throw new Error(
						`${email} was removed (by another pi window?). Add it again with /multicodex use ${email}.`,
					);
				}
				if (stored.needsReauth) {
					throw new Error(`${email}: re-authentication required — run /multicodex reauth ${email}`);
				}
				if (this.now() < stored.expiresAt - TOKEN_EXPIRY_MARGIN_MS) return stored.accessToken;
				const spentToken = stored.refreshToken;
				const timeout = new AbortController();
				const attempt = this.refreshTokenWith(spentToken, timeout.signal);
				let timer: ReturnType<typeof setTimeout> | undefined;
				let creds: CodexCredentials;
				try {
					creds = await Promise.race([
						attempt,
						new Promise<never>((_, reject) => {
							timer = setTimeout(() => {
								reject(new RefreshTimeoutError(this.refreshTimeoutMs));
								timeout.abort();
							}, this.refreshTimeoutMs);
						}),
					]);
				} catch (error) {
					if (error instanceof RefreshTimeoutError) {
						attempt.then(
							(late) => this.saveRefreshedTokens(email, spentToken, late),
							() => undefined,
						);
					}
					throw this.refreshFailure(email, error);
				} finally {
					clearTimeout(timer);
				}
				this.saveRefreshedTokens(email, spentToken, creds);
				return creds.access;
			},
			{ timeoutMs: REFRESH_LOCK_WAIT_MS, recordOwner: true },
		);
	}

	/** Saves refreshed tokens, unless the account changed meanwhile (removed or logged in again). */
	private saveRefreshedTokens(email: string, spentToken: string, creds: CodexCredentials): void {
		rememberSecrets(creds.access, creds.refresh);
		const accountId = credentialsAccountId(creds);
		try {
			this.updateManaged((data) => {
				const target = data.accounts.find((a) => a.email === email);
				if (!target || target.refreshToken !== spentToken) return;
				target.accessToken = creds.access;
				target.refreshToken = creds.refresh;
				target.expiresAt = creds.expires;
				if (accountId) target.accountId = accountId;
				target.needsReauth = undefined;
			});
		} catch (error) {
			this.warn(
				`Multicodex: the refreshed login of ${email} could not be saved (${normalizeUnknownError(error)}); ` +
					`if ${email} asks for a login later, run /multicodex reauth ${email}.`,
			);
		}
	}

	/**
	 * The error a failed refresh becomes. A refused refresh token flags the account (a new login
	 * is the only way back); a timeout, network error or server error does not, it is temporary.
	 */
	private refreshFailure(email: string, error: unknown): Error {
		const reason = this.redact(normalizeUnknownError(error));
		if (isTemporaryRefreshFailure(error, reason)) {
			return new Error(
				`token refresh for ${email} failed: ${reason}. This looks temporary (the OpenAI login ` +
					`server did not answer properly); try again in a moment. If it keeps failing, run ` +
					`/multicodex reauth ${email}.`,
			);
		}
		this.markNeedsReauth(email);
		return new Error(
			`token refresh for ${email} failed: ${reason}. Run /multicodex reauth ${email} to log in again.`,
		);
	}

	/** pi's login is refreshed by pi, not by us: take the newest tokens from auth.json. */
	private async ensureValidTokenForPiAuth(account: Account): Promise<string> {
		const latest = await this.loadPiAuthFile();
		if (
			latest &&
			latest.identifier === account.email &&
			this.now() < latest.credentials.expires - TOKEN_EXPIRY_MARGIN_MS
		) {
			if (this.piAuthAccount) {
				this.piAuthAccount.accessToken = latest.credentials.access;
				this.piAuthAccount.refreshToken = latest.credentials.refresh;
				this.piAuthAccount.expiresAt = latest.credentials.expires;
				this.piAuthAccount.accountId = latest.credentials.accountId ?? this.piAuthAccount.accountId;
			}
			this.notifyStateChanged();
			return latest.credentials.access;
		}
		this.piAuthAccount = undefined;
		this.notifyStateChanged();
		throw new Error(`${account.email}: pi's login has expired — run /login openai-codex`);
	}
}
