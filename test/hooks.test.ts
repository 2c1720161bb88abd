// SPEC A6/B5 without a UI: the usage the first choice needs is asked for at start, in the
// background, and only when there is a choice to make.
import { describe, expect, it, vi } from "vitest";
import type { AccountManager } from "../account-manager.ts";
import { prefetchUsageForChoice } from "../hooks.ts";
import type { Account } from "../storage.ts";

function account(email: string, extra: Partial<Account> = {}): Account {
	return {
		email,
		accessToken: `test-access-${email}`,
		refreshToken: `test-refresh-${email}`,
		expiresAt: Date.now() + 86_400_000,
		...extra,
	};
}

function fakeManager(accounts: Account[], refresh: () => Promise<void> = async () => undefined) {
	const refreshUsageIfStale = vi.fn(refresh);
	const warn = vi.fn();
	const manager = { getAccounts: () => accounts, refreshUsageIfStale, warn };
	return { manager: manager as unknown as AccountManager, refreshUsageIfStale, warn };
}

describe("prefetchUsageForChoice", () => {
	it("asks for the usage of the accounts when there is a choice to make", () => {
		const accounts = [account("a@x.test"), account("b@x.test")];
		const { manager, refreshUsageIfStale } = fakeManager(accounts);
		prefetchUsageForChoice(manager);
		expect(refreshUsageIfStale).toHaveBeenCalledWith(accounts);
	});

	it("makes no request when only one account can be used", () => {
		const accounts = [
			account("a@x.test"),
			account("b@x.test", { needsReauth: true }),
			account("c@x.test", { quotaExhaustedUntil: Date.now() + 3_600_000 }),
			account("d@x.test", { codexNotIncluded: true }),
		];
		const { manager, refreshUsageIfStale } = fakeManager(accounts);
		prefetchUsageForChoice(manager);
		expect(refreshUsageIfStale).not.toHaveBeenCalled();
	});

	it("never throws into pi's start: a failure becomes a warning", async () => {
		const { manager, warn } = fakeManager([account("a@x.test"), account("b@x.test")], async () => {
			throw new Error("disk unreadable");
		});
		expect(() => prefetchUsageForChoice(manager)).not.toThrow();
		await vi.waitFor(() =>
			expect(warn).toHaveBeenCalledWith(expect.stringContaining("disk unreadable")),
		);
	});
});
