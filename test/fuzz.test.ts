// Seeded fuzzing of everything that reads outside input: pi's auth.json, the accounts file (pure
// migration and the store on disk), settings, usage answers and rate-limit headers/events, quota
// classification of HTTP answers, SSE/WebSocket events and error text, and command arguments.
// Every case must finish without an uncaught exception and lose nothing that was valid. A
// failure names its seed and case, so it can be replayed.

import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseImportedOpenAICodexAuth } from "../auth.ts";
import { parseCommandArgs } from "../commands.ts";
import { normalizeFooterPreferences } from "../footer-settings.ts";
import {
	classifyQuotaErrorMessage,
	classifyQuotaEvent,
	classifyQuotaResponse,
	isQuotaErrorMessage,
} from "../quota.ts";
import { normalizeRotationSettings, ROTATION_STRATEGIES } from "../rotation-settings.ts";
import { type Account, AccountStore, migrateStorage, serializeStorage } from "../storage.ts";
import { getStorageSchemas } from "../storage-schema.ts";
import {
	type CodexUsageWindow,
	parseCodexRateLimitHeaders,
	parseCodexRateLimitsEvent,
	parseCodexUsageResponse,
} from "../usage.ts";
import { createPrng, type Prng } from "./support/prng.ts";

const SEED = 0x5eed_2026;
const NOW = 1_767_225_600_000;
let totalCases = 0;

afterAll(() => {
	console.info(`fuzz: ${totalCases} cases (seed ${SEED})`);
});

/** Runs `count` cases; a failing case is reported with its seed and index. */
function fuzz(name: string, count: number, body: (random: Prng, index: number) => void): void {
	const random = createPrng(SEED ^ hash(name));
	for (let index = 0; index < count; index++) {
		try {
			body(random, index);
		} catch (error) {
			throw new Error(`${name}: case ${index} (seed ${SEED}) failed: ${(error as Error).message}`);
		}
	}
	totalCases += count;
}

function hash(text: string): number {
	let h = 2166136261;
	for (const char of text) h = Math.imul(h ^ char.charCodeAt(0), 16777619);
	return h >>> 0;
}

// ---------------------------------------------------------------- generators

const ODD_STRINGS = [
	"",
	" ",
	"\u0000",
	"null",
	"NaN",
	"-1",
	"1e309",
	"__proto__",
	"constructor",
	"a@x.com",
	"eyJhbGciOiJub25lIn0.eyJ4IjoxfQ.sig",
	"😀",
	"\u202e",
	"x".repeat(300),
	"usage_limit_reached",
	"usage_not_included",
	"rate_limit_exceeded",
	"429",
	"Too Many Requests",
];
const ODD_NUMBERS = [
	0,
	-0,
	-1,
	1,
	0.5,
	99.999,
	100,
	101,
	1e21,
	-1e21,
	Number.MAX_SAFE_INTEGER,
	Number.NaN,
	Number.POSITIVE_INFINITY,
	Number.NEGATIVE_INFINITY,
	1_767_225_600,
	NOW,
];

function randomString(random: Prng): string {
	if (random.chance(0.4)) return random.pick(ODD_STRINGS);
	const length = random.int(0, 24);
	let out = "";
	for (let i = 0; i < length; i++) out += String.fromCharCode(random.int(0, 0x2fff));
	return out;
}

function randomNumber(random: Prng): number {
	if (random.chance(0.5)) return random.pick(ODD_NUMBERS);
	return (random.next() - 0.3) * 10 ** random.int(0, 14);
}

/** Any value, including ones JSON cannot hold (NaN, Infinity, undefined) when `jsonOnly` is false. */
function randomValue(random: Prng, depth = 0, jsonOnly = false): unknown {
	const roll = random.int(0, depth > 3 ? 5 : 8);
	switch (roll) {
		case 0:
			return null;
		case 1:
			return random.chance(0.5);
		case 2: {
			const n = randomNumber(random);
			return jsonOnly && !Number.isFinite(n) ? 0 : n;
		}
		case 3:
		case 4:
			return randomString(random);
		case 5:
			return jsonOnly ? null : undefined;
		case 6:
			return Array.from({ length: random.int(0, 4) }, () =>
				randomValue(random, depth + 1, jsonOnly),
			);
		default: {
			const record: Record<string, unknown> = {};
			for (let i = random.int(0, 5); i > 0; i--) {
				record[randomString(random)] = randomValue(random, depth + 1, jsonOnly);
			}
			return record;
		}
	}
}

/** An object with the expected keys, each either right, wrong, or missing. */
function shaped(
	random: Prng,
	fields: Record<string, () => unknown>,
	jsonOnly = false,
): Record<string, unknown> {
	const record: Record<string, unknown> = {};
	for (const [key, good] of Object.entries(fields)) {
		const roll = random.next();
		if (roll < 0.6) record[key] = good();
		else if (roll < 0.85) record[key] = randomValue(random, 2, jsonOnly);
	}
	if (random.chance(0.2)) record[randomString(random)] = randomValue(random, 2, jsonOnly);
	return record;
}

function randomAccount(random: Prng, index: number): Record<string, unknown> {
	const email = `user${index}-${random.int(0, 9999)}@sim.test`;
	const account = shaped(
		random,
		{
			email: () => email,
			accessToken: () => `access-${email}-${random.int(0, 1e9)}`,
			refreshToken: () => `refresh-${email}-${random.int(0, 1e9)}`,
			expiresAt: () => NOW + random.int(-1e9, 1e9),
			accountId: () => `acct-${random.int(0, 99)}`,
			lastUsed: () => NOW - random.int(0, 1e9),
			quotaExhaustedUntil: () => NOW + random.int(0, 1e9),
			needsReauth: () => random.chance(0.5),
		},
		true,
	);
	if (random.chance(0.1)) account.importSource = "legacy";
	return account;
}

function randomAccountsDocument(random: Prng): unknown {
	const roll = random.next();
	if (roll < 0.05) return randomValue(random, 0, true);
	const accounts = Array.from({ length: random.int(0, 6) }, (_, i) =>
		random.chance(0.85) ? randomAccount(random, i) : randomValue(random, 2, true),
	);
	return shaped(
		random,
		{
			$schema: () => "https://example.test/schema.json",
			version: () => (random.chance(0.8) ? 1 : random.int(-2, 3)),
			accounts: () => accounts,
			activeEmail: () => (accounts[0] as { email?: unknown } | undefined)?.email,
		},
		true,
	);
}

/** The accounts a careful reader must keep: each entry valid on its own (legacy fields aside). */
function validAccountsIn(document: unknown): Account[] {
	const entries = (document as { accounts?: unknown } | null)?.accounts;
	if (!Array.isArray(entries)) return [];
	const kept: Account[] = [];
	for (const entry of entries) {
		if (!entry || typeof entry !== "object" || Array.isArray(entry)) continue;
		const copy = { ...(entry as Record<string, unknown>) };
		delete copy.importSource;
		const parsed = getStorageSchemas().account.safeParse(copy);
		if (parsed.success && !kept.some((a) => a.email === parsed.data.email)) kept.push(parsed.data);
	}
	return kept;
}

function expectWindow(window: CodexUsageWindow | undefined): void {
	if (!window) return;
	if (window.usedPercent !== undefined) {
		expect(Number.isFinite(window.usedPercent)).toBe(true);
		expect(window.usedPercent).toBeGreaterThanOrEqual(0);
		expect(window.usedPercent).toBeLessThanOrEqual(100);
	}
	if (window.resetAt !== undefined) expect(typeof window.resetAt).toBe("number");
}

/** What a value looks like after a trip through a file or the network (JSON text). */
function asJson(value: unknown): unknown {
	const text = JSON.stringify(value);
	return text === undefined ? null : JSON.parse(text);
}

/** JSON objects whose keys shadow Object.prototype: `Number()` or a template literal throws. */
const HOSTILE = JSON.parse(
	'{"toString": 1, "valueOf": "x", "__proto__": {"a": 1}, "constructor": 2}',
);

const QUOTA_KINDS = new Set(["usage_limit_reached", "usage_not_included", "rate_limited"]);

// ---------------------------------------------------------------- the cases

// Seconds on a busy two-core machine; the file system cases dominate.
describe("fuzz", { timeout: 60_000 }, () => {
	it("auth.json: any document gives pi's login or none, never a half login", () => {
		fuzz("auth", 1500, (random) => {
			const entry = shaped(random, {
				type: () => "oauth",
				access: () =>
					random.chance(0.5) ? `eyJ${randomString(random)}.x.y` : randomString(random),
				refresh: () => randomString(random),
				expires: () => randomNumber(random),
				accountId: () => randomString(random),
				account_id: () => randomString(random),
			});
			const document = random.chance(0.9)
				? { "openai-codex": entry, other: randomValue(random, 1) }
				: (randomValue(random) as Record<string, unknown>);
			const result = parseImportedOpenAICodexAuth(
				document && typeof document === "object" ? (document as Record<string, unknown>) : {},
			);
			if (!result) return;
			expect(result.identifier.length).toBeGreaterThan(0);
			expect(result.credentials.access.length).toBeGreaterThan(0);
			expect(result.credentials.refresh.length).toBeGreaterThan(0);
			expect(typeof result.credentials.expires).toBe("number");
		});
	});

	it("accounts file (pure): any document migrates to valid data that keeps every valid account", () => {
		fuzz("migrate", 2100, (random) => {
			const document = asJson(randomAccountsDocument(random));
			const result = migrateStorage(document);
			expect(getStorageSchemas().storage.safeParse(result.data).success).toBe(true);
			const kept = new Set(result.data.accounts.map((a) => a.email));
			for (const account of validAccountsIn(document)) expect(kept.has(account.email)).toBe(true);
			// Serialising and reading again changes nothing.
			const again = migrateStorage(JSON.parse(serializeStorage(result.data)));
			expect(again.data.accounts).toEqual(result.data.accounts);
			expect(again.salvaged).toBe(false);
		});
	});

	it("accounts file (on disk): damaged bytes are copied aside as they were, valid accounts kept", () => {
		const dir = mkdtempSync(join(tmpdir(), "multicodex-fuzz-"));
		try {
			fuzz("store", 200, (random, index) => {
				const file = join(dir, `case-${index}.json`);
				const accounts = Array.from({ length: random.int(1, 4) }, (_, i) => ({
					email: `disk${index}-${i}@sim.test`,
					accessToken: `access-${index}-${i}`,
					refreshToken: `refresh-${index}-${i}`,
					expiresAt: NOW,
				}));
				const good = serializeStorage({ version: 1, accounts });
				let text: string;
				let garbledAt = -1;
				const damage = random.int(0, 3);
				if (damage === 0) {
					text = good.slice(0, random.int(0, good.length)); // truncated
				} else if (damage === 1) {
					garbledAt = random.int(0, good.length - 1);
					text = `${good.slice(0, garbledAt)}${randomString(random)}${good.slice(garbledAt + 1)}`;
				} else if (damage === 2) {
					text = JSON.stringify(randomAccountsDocument(random)); // wrong shapes
				} else {
					text = good; // intact
				}
				writeFileSync(file, text);
				const warnings: string[] = [];
				const store = new AccountStore({ path: () => file, onWarning: (m) => warnings.push(m) });
				const data = store.load();
				expect(getStorageSchemas().storage.safeParse(data).success).toBe(true);
				const backups = readdirSync(dir).filter((n) => n.startsWith(`case-${index}.json.damaged-`));
				if (text === good) {
					expect(data.accounts).toEqual(accounts);
					expect(backups).toEqual([]);
				}
				for (const name of backups) expect(readFileSync(join(dir, name), "utf8")).toBe(text);
				if (backups.length > 0) expect(warnings.join("\n")).toContain(backups[0]);
				// Nothing valid is lost: every account whose own text is intact survives.
				const span = (email: string) => {
					const at = good.indexOf(`"${email}"`);
					return { start: good.lastIndexOf("{", at), end: good.indexOf("}", at) };
				};
				const intact =
					damage === 0
						? accounts.filter((a) => text.length > span(a.email).end)
						: damage === 1
							? accounts.filter(
									(a) => garbledAt < span(a.email).start || garbledAt > span(a.email).end,
								)
							: damage === 2
								? validAccountsIn(JSON.parse(text))
								: accounts;
				const kept = new Set(data.accounts.map((a) => a.email));
				for (const account of intact) expect(kept.has(account.email), account.email).toBe(true);
				// What was written is valid, and reading it again gives the same accounts.
				const reread = new AccountStore({ path: () => file }).load();
				expect(reread.accounts).toEqual(data.accounts);
			});
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});

	it("settings: any value gives complete footer and rotation settings, keeping what is valid", () => {
		fuzz("settings", 1000, (random) => {
			const footerInput = shaped(random, {
				usageMode: () => random.pick(["left", "used"]),
				resetWindow: () => random.pick(["5h", "7d", "both"]),
				showAccount: () => random.chance(0.5),
				showReset: () => random.chance(0.5),
				order: () => random.pick(["account-first", "usage-first"]),
			});
			const givenShaped = random.chance(0.9);
			const footer = normalizeFooterPreferences(givenShaped ? footerInput : randomValue(random));
			const allowed = {
				usageMode: ["left", "used"],
				resetWindow: ["5h", "7d", "both"],
				showAccount: [true, false],
				showReset: [true, false],
				order: ["account-first", "usage-first"],
			} as const;
			for (const [key, values] of Object.entries(allowed) as [
				keyof typeof allowed,
				readonly unknown[],
			][]) {
				expect(values).toContain(footer[key]);
				// A valid value given is kept as it was.
				if (givenShaped && values.includes(footerInput[key]))
					expect(footer[key]).toBe(footerInput[key]);
			}
			const rotation = normalizeRotationSettings(
				random.chance(0.8)
					? shaped(random, {
							strategy: () => random.pick(ROTATION_STRATEGIES),
							preferUntouched: () => random.chance(0.5),
							retryCount: () => random.int(-2, 12),
							fallbackCooldownMinutes: () => random.int(-5, 20_000),
							proactiveSwitchPercent: () =>
								random.chance(0.2) ? random.pick([false, "off"]) : random.int(-5, 120),
						})
					: randomValue(random),
			);
			expect(ROTATION_STRATEGIES).toContain(rotation.strategy);
			expect(Number.isInteger(rotation.retryCount)).toBe(true);
			expect(rotation.retryCount).toBeGreaterThanOrEqual(0);
			expect(Number.isInteger(rotation.fallbackCooldownMinutes)).toBe(true);
			expect(rotation.fallbackCooldownMinutes).toBeGreaterThanOrEqual(1);
			if (rotation.proactiveSwitchPercent !== undefined) {
				expect(rotation.proactiveSwitchPercent).toBeGreaterThanOrEqual(1);
				expect(rotation.proactiveSwitchPercent).toBeLessThanOrEqual(100);
			}
		});
	});

	it("usage answers, rate-limit headers and rate-limit events: never throw, percentages in 0..100", () => {
		fuzz("usage", 2000, (random) => {
			const windowShape = () =>
				shaped(random, {
					used_percent: () => randomNumber(random),
					reset_at: () => randomNumber(random),
					limit_window_seconds: () => random.pick([18_000, 604_800, randomNumber(random)]),
					reset_after_seconds: () => randomNumber(random),
				});
			const answer = random.chance(0.85)
				? shaped(random, {
						plan_type: () => "plus",
						rate_limit: () =>
							shaped(random, {
								primary_window: windowShape,
								secondary_window: windowShape,
								limit_reached: () => random.chance(0.5),
							}),
					})
				: randomValue(random);
			const usage = parseCodexUsageResponse(answer);
			expectWindow(usage.primary);
			expectWindow(usage.secondary);

			const headers: Record<string, string> = {};
			for (const window of ["primary", "secondary"]) {
				for (const field of ["used-percent", "window-minutes", "reset-at", "reset-after-seconds"]) {
					if (random.chance(0.6)) {
						headers[`x-codex-${window}-${field}`] = random.chance(0.7)
							? String(randomNumber(random))
							: randomString(random);
					}
				}
			}
			const fromHeaders = parseCodexRateLimitHeaders(headers, NOW);
			expectWindow(fromHeaders?.primary);
			expectWindow(fromHeaders?.secondary);

			const event = random.chance(0.8)
				? shaped(random, {
						type: () => "codex.rate_limits",
						plan_type: () => "plus",
						rate_limits: () =>
							shaped(random, {
								primary: () =>
									shaped(random, {
										used_percent: () => randomNumber(random),
										window_minutes: () => random.pick([300, 10_080, randomNumber(random)]),
										reset_at: () => randomNumber(random),
									}),
								secondary: () =>
									shaped(random, {
										used_percent: () => randomNumber(random),
										window_minutes: () => random.pick([300, 10_080, randomNumber(random)]),
										reset_at: () => randomNumber(random),
									}),
							}),
					})
				: randomValue(random);
			const fromEvent = parseCodexRateLimitsEvent(event, NOW);
			expectWindow(fromEvent?.primary);
			expectWindow(fromEvent?.secondary);
		});
	});

	it("quota classification of HTTP answers, SSE/WebSocket events and error text: never throws", () => {
		fuzz("quota", 2000, (random) => {
			const errorObject = () =>
				shaped(random, {
					type: () =>
						random.pick([
							"usage_limit_reached",
							"usage_not_included",
							"rate_limit_exceeded",
							"server_error",
						]),
					code: () => random.pick(["usage_limit_reached", "usage_not_included", "x"]),
					message: () => randomString(random),
					resets_at: () => randomNumber(random),
					resets_in_seconds: () => randomNumber(random),
				});
			const body = asJson(random.chance(0.8) ? { error: errorObject() } : randomValue(random));
			const status = random.pick([200, 400, 401, 403, 429, 500, random.int(0, 999)]);
			const headers: Record<string, string | undefined> = random.chance(0.5)
				? {
						"retry-after": random.chance(0.5) ? String(randomNumber(random)) : randomString(random),
						"x-codex-primary-used-percent": String(randomNumber(random)),
						"x-codex-primary-reset-at": String(randomNumber(random)),
					}
				: {};
			const signal = classifyQuotaResponse(status, headers, body, NOW);
			if (status === 429) expect(signal).toBeDefined();
			if (signal) expect(QUOTA_KINDS.has(signal.kind)).toBe(true);

			// Raw stream events as the SSE or WebSocket transport delivers them.
			const event = asJson(
				random.chance(0.8)
					? shaped(random, {
							type: () => random.pick(["error", "response.failed", "response.completed"]),
							status: () => random.pick([429, 500, randomNumber(random)]),
							error: errorObject,
							response: () => ({ error: errorObject() }),
						})
					: randomValue(random),
			);
			const fromEvent = classifyQuotaEvent(event, NOW);
			if (fromEvent) expect(QUOTA_KINDS.has(fromEvent.kind)).toBe(true);

			const message = random.chance(0.5)
				? `${random.pick(["Codex error: ", "", "429 "])}${JSON.stringify(body)}`
				: randomString(random);
			const quoted = isQuotaErrorMessage(message);
			const fromText = classifyQuotaErrorMessage(message);
			expect(fromText !== undefined).toBe(quoted);
			if (fromText) expect(QUOTA_KINDS.has(fromText.kind)).toBe(true);
		});
	});

	it("JSON whose keys shadow Object.prototype (toString, valueOf, __proto__) breaks no reader", () => {
		const inputs = [HOSTILE, { ...HOSTILE }, [HOSTILE], { a: HOSTILE }];
		for (const h of inputs) {
			expect(() =>
				parseImportedOpenAICodexAuth({
					"openai-codex": { type: "oauth", access: h, refresh: h, expires: h, accountId: h },
				}),
			).not.toThrow();
			expect(() =>
				migrateStorage({ version: h, accounts: [h, { email: h }], activeEmail: h }),
			).not.toThrow();
			expect(() =>
				normalizeFooterPreferences({ usageMode: h, showAccount: h, order: h }),
			).not.toThrow();
			expect(() =>
				normalizeRotationSettings({ strategy: h, retryCount: h, proactiveSwitchPercent: h }),
			).not.toThrow();
			expect(() =>
				parseCodexUsageResponse({
					rate_limit: { primary_window: { used_percent: h, reset_at: h }, secondary_window: h },
				}),
			).not.toThrow();
			expect(() =>
				parseCodexRateLimitsEvent(
					{ type: "codex.rate_limits", rate_limits: { primary: { used_percent: h, reset_at: h } } },
					NOW,
				),
			).not.toThrow();
			expect(() =>
				parseCodexRateLimitHeaders({ "x-codex-primary-used-percent": "1" }, NOW),
			).not.toThrow();
			expect(() => classifyQuotaErrorMessage(JSON.stringify(h))).not.toThrow();
		}
		totalCases += inputs.length;
	});

	// KNOWN BUG, reported to the owner of quota.ts: `Number(error.resets_at)` (and the status)
	// throws "Cannot convert object to primitive value" for a JSON object with a `toString` key.
	// A backend frame like that would throw inside the stream wrapper's event callback. When
	// quota.ts reads numbers only from numbers and strings, this test passes: make it an `it`.
	it("quota classification of such JSON does not throw", () => {
		expect(() =>
			classifyQuotaResponse(
				429,
				{},
				{ error: { type: "usage_limit_reached", resets_at: HOSTILE } },
				NOW,
			),
		).not.toThrow();
		expect(() =>
			classifyQuotaEvent(
				{ type: "error", status: HOSTILE, error: { type: "x", resets_at: HOSTILE } },
				NOW,
			),
		).not.toThrow();
	});

	it("command arguments: any text splits into a lower-case subcommand and trimmed rest", () => {
		fuzz("commands", 1200, (random) => {
			const words = Array.from({ length: random.int(0, 4) }, () =>
				random.chance(0.5)
					? random.pick(["use", "USE", "refresh", "reset", "a@x.com", "all", "help"])
					: randomString(random),
			);
			const separators = [" ", "  ", "\t", "\n", " \u00a0 "];
			const text = words.map((w) => `${w}${random.pick(separators)}`).join(random.pick(separators));
			const { subcommand, rest } = parseCommandArgs(text);
			expect(rest).toBe(rest.trim());
			if (subcommand === undefined) {
				expect(text.trim()).toBe("");
				return;
			}
			expect(subcommand).toBe(subcommand.toLowerCase());
			expect(subcommand).not.toMatch(/\s/);
			// Nothing is lost: the subcommand and the rest are the text's own words.
			expect(text.toLowerCase()).toContain(subcommand);
			if (rest) expect(text).toContain(rest);
		});
	});
});
