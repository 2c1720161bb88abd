// Writing and reading `codex-accounts.json` in a test agent dir, with tokens minted by the
// simulated backend (shared by the e2e tests, the benchmarks and the demo).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { SimBackend, SimCredentials } from "./sim-backend.ts";

export interface StoredAccount {
	email: string;
	accessToken: string;
	refreshToken: string;
	expiresAt: number;
	accountId?: string;
	lastUsed?: number;
	quotaExhaustedUntil?: number;
	needsReauth?: boolean;
	codexNotIncluded?: boolean;
}

export function storedAccountOf(
	c: SimCredentials,
	extra: Partial<StoredAccount> = {},
): StoredAccount {
	return {
		email: c.email,
		accessToken: c.access,
		refreshToken: c.refresh,
		expiresAt: c.expires,
		accountId: c.accountId,
		...extra,
	};
}

/** Writes the accounts file (0600) and returns its path. */
export function writeAccountsFile(
	agentDir: string,
	accounts: StoredAccount[],
	activeEmail?: string,
): string {
	const path = join(agentDir, "codex-accounts.json");
	writeFileSync(path, JSON.stringify({ version: 1, accounts, activeEmail }, null, 2), {
		mode: 0o600,
	});
	return path;
}

/** The managed accounts file, with fresh tokens from the simulator. */
export function writeManagedAccounts(agentDir: string, sim: SimBackend, emails: string[]): void {
	writeAccountsFile(
		agentDir,
		emails.map((email) => storedAccountOf(sim.issueTokens(email))),
	);
}

export function readAccountsFile(agentDir: string): StoredAccount[] {
	return JSON.parse(readFileSync(join(agentDir, "codex-accounts.json"), "utf8")).accounts;
}
