// SPEC A6: the start of a session. The ready gate opens even when loading fails, and accounts
// that need a new login are named once with their repair command.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { AccountManager } from "../account-manager.ts";
import { prepareAccounts, warnAboutReauth } from "../hooks.ts";
import { type Account, AccountStore, serializeStorage } from "../storage.ts";

function account(email: string, extra: Partial<Account> = {}): Account {
	return {
		email,
		accessToken: `test-access-${email}`,
		refreshToken: `test-refresh-${email}`,
		expiresAt: Date.now() + 86_400_000,
		...extra,
	};
}

describe("prepareAccounts and warnAboutReauth", () => {
	function managerOn(accounts: Account[], loadPiAuth: () => Promise<undefined>) {
		const dir = mkdtempSync(join(tmpdir(), "multicodex-hooks-"));
		const file = join(dir, "codex-accounts.json");
		writeFileSync(file, serializeStorage({ version: 1, accounts }), { mode: 0o600 });
		const manager = new AccountManager({
			store: new AccountStore({ path: () => file }),
			loadPiAuth,
			fetchUsage: async () => {
				throw new Error("no usage in this test");
			},
		});
		return { manager, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
	}

	it("opens the ready gate when loading fails, and says why", async () => {
		const { manager, cleanup } = managerOn([account("a@x.test")], async () => {
			throw new Error("auth.json unreadable");
		});
		const warnings: string[] = [];
		manager.setWarningHandler((message) => warnings.push(message));
		try {
			manager.beginInitialization();
			let ready = false;
			void manager.waitUntilReady().then(() => {
				ready = true;
			});
			await Promise.resolve();
			expect(ready).toBe(false);
			await prepareAccounts(manager);
			await vi.waitFor(() => expect(ready).toBe(true));
			expect(warnings).toEqual([expect.stringContaining("auth.json unreadable")]);
		} finally {
			cleanup();
		}
	});

	it("names each account that needs a new login with its repair command, in one warning", async () => {
		const { manager, cleanup } = managerOn(
			[
				account("a@x.test", { needsReauth: true }),
				account("b@x.test"),
				account("c@x.test", { needsReauth: true }),
			],
			async () => undefined,
		);
		try {
			await prepareAccounts(manager);
			const warnings: string[] = [];
			warnAboutReauth(manager, (message) => warnings.push(message));
			expect(warnings).toHaveLength(1);
			expect(warnings[0]).toContain("2 account(s) need re-authentication");
			expect(warnings[0]).toContain("a@x.test (/multicodex reauth a@x.test)");
			expect(warnings[0]).toContain("c@x.test (/multicodex reauth c@x.test)");
			expect(warnings[0]).not.toContain("b@x.test");
			expect(warnings[0]).not.toContain("test-access");
		} finally {
			cleanup();
		}
	});

	it("says nothing when every account is logged in", async () => {
		const { manager, cleanup } = managerOn([account("a@x.test")], async () => undefined);
		try {
			await prepareAccounts(manager);
			const warn = vi.fn();
			warnAboutReauth(manager, warn);
			expect(warn).not.toHaveBeenCalled();
		} finally {
			cleanup();
		}
	});
});
