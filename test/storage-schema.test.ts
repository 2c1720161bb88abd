// The fast check of a healthy accounts file must say exactly what the zod schema says: same
// verdict and same data, for seeded random documents close to the real format.
import { describe, expect, it } from "vitest";
import { getStorageSchemas, parseCurrentStorage } from "../storage-schema.ts";
import { createPrng, type Prng } from "./support/prng.ts";

const ODD_VALUES: unknown[] = [
	undefined,
	null,
	"",
	"x",
	0,
	-1,
	1.5,
	2 ** 53,
	Number.NaN,
	true,
	false,
	[],
	{},
	{ toString: 1 },
];

function field(rng: Prng, good: () => unknown): unknown {
	return rng.next() < 0.85 ? good() : ODD_VALUES[rng.int(0, ODD_VALUES.length - 1)];
}

function randomAccount(rng: Prng): unknown {
	const account: Record<string, unknown> = {
		email: field(rng, () => `user${rng.int(0, 9 - 1)}@x.test`),
		accessToken: field(rng, () => `access-${rng.int(0, 1000 - 1)}`),
		refreshToken: field(rng, () => `refresh-${rng.int(0, 1000 - 1)}`),
		expiresAt: field(rng, () => rng.int(0, 2_000_000_000_000 - 1)),
	};
	if (rng.next() < 0.5) account.accountId = field(rng, () => `acct-${rng.int(0, 99 - 1)}`);
	if (rng.next() < 0.3) account.lastUsed = field(rng, () => rng.int(0, 1e12 - 1));
	if (rng.next() < 0.3) account.quotaExhaustedUntil = field(rng, () => rng.int(0, 1e12 - 1));
	if (rng.next() < 0.3) account.needsReauth = field(rng, () => rng.next() < 0.5);
	if (rng.next() < 0.3) account.codexNotIncluded = field(rng, () => rng.next() < 0.5);
	if (rng.next() < 0.1) account.somethingNew = "kept out";
	for (const key of Object.keys(account)) if (rng.next() < 0.03) delete account[key];
	return rng.next() < 0.97 ? account : ODD_VALUES[rng.int(0, ODD_VALUES.length - 1)];
}

function randomDocument(rng: Prng): unknown {
	const document: Record<string, unknown> = {
		version: field(rng, () => 1 + rng.int(0, 3 - 1)),
		accounts: field(rng, () => Array.from({ length: rng.int(0, 4 - 1) }, () => randomAccount(rng))),
	};
	if (rng.next() < 0.5) document.$schema = field(rng, () => "https://example.test/schema.json");
	if (rng.next() < 0.5) document.activeEmail = field(rng, () => `user${rng.int(0, 9 - 1)}@x.test`);
	if (rng.next() < 0.1) document.extra = 1;
	return document;
}

describe("parseCurrentStorage", () => {
	it("agrees with the zod schema on 3,000 seeded documents", () => {
		const rng = createPrng(20261125);
		const schema = getStorageSchemas().storage;
		let accepted = 0;
		for (let i = 0; i < 3000; i++) {
			const document = randomDocument(rng);
			const zod = schema.safeParse(document);
			const fast = parseCurrentStorage(document);
			expect(fast !== undefined, JSON.stringify(document)).toBe(zod.success);
			if (zod.success) {
				accepted++;
				expect(fast).toEqual(zod.data);
			}
		}
		// Both verdicts occur often enough for the comparison to mean something.
		expect(accepted).toBeGreaterThan(300);
		expect(accepted).toBeLessThan(2700);
	});
});
