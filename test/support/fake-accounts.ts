// Managed accounts with fake, recognisable tokens for unit tests that need no simulator: each
// account's tokens name it, so a test can look for them in any output.
import type { Account } from "../../storage.ts";

const DAY_MS = 24 * 60 * 60 * 1000;

export function fakeToken(email: string, kind: "access" | "refresh"): string {
	return `${kind}-token-of-${email}-0123456789`;
}

/** An account whose token is valid for a day, with `extra` fields on top. */
export function fakeAccount(email: string, extra: Partial<Account> = {}): Account {
	return {
		email,
		accessToken: fakeToken(email, "access"),
		refreshToken: fakeToken(email, "refresh"),
		expiresAt: Date.now() + DAY_MS,
		accountId: `acct-${email}`,
		...extra,
	};
}
