// The last known usage of each account, kept in `codex-usage-cache.json` next to the accounts
// file so a new pi process has numbers (for the first choice and the footer) before any usage
// request returns. It holds no secret; entries are merged by newest `fetchedAt` (no lock: see
// `save`).
import { randomBytes } from "node:crypto";
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { getAgentPath, isJsonObject, readJsonObjectFileSync } from "./provider-utils.ts";
import type { CodexUsageSnapshot, CodexUsageWindow } from "./usage.ts";

export const USAGE_CACHE_FILE_NAME = "codex-usage-cache.json";

function parseWindow(value: unknown): CodexUsageWindow | undefined {
	if (!isJsonObject(value)) return undefined;
	const usedPercent = typeof value.usedPercent === "number" ? value.usedPercent : undefined;
	const resetAt = typeof value.resetAt === "number" ? value.resetAt : undefined;
	return usedPercent === undefined && resetAt === undefined ? undefined : { usedPercent, resetAt };
}

/** Pure: the snapshots a cache document holds; anything malformed is skipped. */
export function parseUsageCache(document: unknown): Map<string, CodexUsageSnapshot> {
	const result = new Map<string, CodexUsageSnapshot>();
	const accounts = isJsonObject(document) ? document.accounts : undefined;
	if (!isJsonObject(accounts)) return result;
	for (const [email, entry] of Object.entries(accounts)) {
		if (!isJsonObject(entry) || typeof entry.fetchedAt !== "number") continue;
		result.set(email, {
			primary: parseWindow(entry.primary),
			secondary: parseWindow(entry.secondary),
			fetchedAt: entry.fetchedAt,
		});
	}
	return result;
}

export class UsageCacheFile {
	constructor(private readonly resolvePath = () => getAgentPath(USAGE_CACHE_FILE_NAME)) {}

	get path(): string {
		return this.resolvePath();
	}

	/** What is on disk; a missing or damaged cache is simply empty (it is only a cache). */
	load(): Map<string, CodexUsageSnapshot> {
		try {
			const read = readJsonObjectFileSync(this.path);
			return read.kind === "ok" ? parseUsageCache(read.value) : new Map();
		} catch {
			return new Map();
		}
	}

	/**
	 * Merges `snapshots` into the file, keeping the newer entry per account. It is only a
	 * cache: no lock and no fsync (a lost race costs one usage request, never an account); the
	 * rename keeps the file whole for every reader.
	 */
	save(snapshots: Map<string, CodexUsageSnapshot>, knownEmails: Set<string>): void {
		const path = this.path;
		const merged = this.load();
		for (const [email, snapshot] of snapshots) {
			const existing = merged.get(email);
			if (!existing || existing.fetchedAt <= snapshot.fetchedAt) merged.set(email, snapshot);
		}
		const accounts: Record<string, CodexUsageSnapshot> = {};
		for (const [email, snapshot] of merged) {
			if (knownEmails.has(email)) accounts[email] = snapshot;
		}
		mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
		const tempPath = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
		writeFileSync(tempPath, `${JSON.stringify({ version: 1, accounts }, null, 2)}\n`, {
			mode: 0o600,
		});
		renameSync(tempPath, path);
	}
}
