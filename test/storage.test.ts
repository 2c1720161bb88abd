// The accounts file: migration, salvage, serialisation, private atomic writes, damaged files
// copied aside (never lost), and the committed JSON schema being current.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { renderStorageJsonSchema, SCHEMA_PATH } from "../scripts/generate-schema.ts";
import {
	type Account,
	AccountStore,
	CURRENT_VERSION,
	migrateStorage,
	SCHEMA_URL,
	type StorageData,
	serializeStorage,
} from "../storage.ts";

function account(email: string, extra: Partial<Account> = {}): Account {
	return {
		email,
		accessToken: `access-${email}`,
		refreshToken: `refresh-${email}`,
		expiresAt: 1_767_225_600_000,
		...extra,
	};
}

describe("migrateStorage", () => {
	it("adds version 1 to a file without version and asks for a rewrite", () => {
		const result = migrateStorage({ accounts: [account("a@x.com")], activeEmail: "a@x.com" });
		expect(result.data.version).toBe(1);
		expect(result.needsRewrite).toBe(true);
		expect(result.salvaged).toBe(false);
		expect(result.data.accounts).toEqual([account("a@x.com")]);
		expect(result.data.activeEmail).toBe("a@x.com");
	});

	it("removes the legacy import fields and asks for a rewrite", () => {
		const legacy = {
			...account("a@x.com"),
			importSource: "pi-auth",
			importMode: "copy",
			importFingerprint: "abc123",
		};
		const result = migrateStorage({ version: 1, accounts: [legacy, account("b@x.com")] });
		expect(result.needsRewrite).toBe(true);
		expect(result.salvaged).toBe(false);
		expect(result.data.accounts).toEqual([account("a@x.com"), account("b@x.com")]);
		for (const stored of result.data.accounts) {
			expect(stored).not.toHaveProperty("importSource");
			expect(stored).not.toHaveProperty("importMode");
			expect(stored).not.toHaveProperty("importFingerprint");
		}
	});

	it("leaves a current file alone", () => {
		const data: StorageData = {
			version: 1,
			accounts: [account("a@x.com", { needsReauth: true, quotaExhaustedUntil: 5, lastUsed: 3 })],
			activeEmail: "a@x.com",
		};
		const result = migrateStorage(data);
		expect(result).toEqual({ data, needsRewrite: false, droppedAccounts: 0, salvaged: false });
	});

	it("salvages the valid accounts and drops the invalid ones", () => {
		const result = migrateStorage({
			version: 1,
			accounts: [
				account("a@x.com"),
				{ email: "bad@x.com", accessToken: "", refreshToken: "r", expiresAt: 1 },
				{ email: "worse@x.com", accessToken: "a", refreshToken: "r", expiresAt: "soon" },
				"not an account",
				account("c@x.com", { accountId: "acct-c" }),
			],
			activeEmail: "bad@x.com",
		});
		expect(result.salvaged).toBe(true);
		expect(result.needsRewrite).toBe(true);
		expect(result.droppedAccounts).toBe(3);
		expect(result.data.version).toBe(CURRENT_VERSION);
		expect(result.data.accounts.map((a) => a.email)).toEqual(["a@x.com", "c@x.com"]);
		// The active account was dropped, so it is not kept as active.
		expect(result.data.activeEmail).toBeUndefined();
	});

	it("keeps activeEmail in a salvage when that account survived", () => {
		const result = migrateStorage({
			version: 0,
			accounts: [account("a@x.com"), { email: "x" }],
			activeEmail: "a@x.com",
		});
		expect(result.salvaged).toBe(true);
		expect(result.data.accounts.map((a) => a.email)).toEqual(["a@x.com"]);
		expect(result.data.activeEmail).toBe("a@x.com");
	});

	it.each([
		["null", null],
		["an array", [account("a@x.com")]],
		["a string", "accounts"],
		["a number", 42],
	])("turns %s into empty storage", (_label, input) => {
		const result = migrateStorage(input);
		expect(result.data).toEqual({ version: 1, accounts: [] });
		expect(result.salvaged).toBe(true);
	});
});

describe("serializeStorage", () => {
	it("writes $schema and version first, with a 2-space indent", () => {
		const text = serializeStorage({
			accounts: [account("a@x.com")],
			activeEmail: "a@x.com",
			version: 1,
		});
		const lines = text.split("\n");
		expect(lines[0]).toBe("{");
		expect(lines[1]).toBe(`  "$schema": ${JSON.stringify(SCHEMA_URL)},`);
		expect(lines[2]).toBe('  "version": 1,');
		expect(lines[3]).toBe('  "accounts": [');
		expect(lines[4]).toBe("    {");
		expect(lines[5]).toBe('      "email": "a@x.com",');
		expect(text.endsWith("}\n")).toBe(true);
		expect(text).not.toContain("\t");
		const parsed = JSON.parse(text) as Record<string, unknown>;
		expect(Object.keys(parsed)).toEqual(["$schema", "version", "accounts", "activeEmail"]);
		expect(parsed.activeEmail).toBe("a@x.com");
	});

	it("round-trips through migrateStorage unchanged", () => {
		const data: StorageData = {
			version: 1,
			accounts: [account("a@x.com", { accountId: "acct", lastUsed: 7 }), account("b@x.com")],
			activeEmail: "b@x.com",
		};
		const result = migrateStorage(JSON.parse(serializeStorage(data)));
		expect(result.needsRewrite).toBe(false);
		expect(result.data.accounts).toEqual(data.accounts);
		expect(result.data.activeEmail).toBe("b@x.com");
	});
});

describe("AccountStore on disk", () => {
	let dir: string;
	let file: string;
	let warnings: string[];
	let store: AccountStore;

	beforeEach(() => {
		dir = mkdtempSync(join(tmpdir(), "multicodex-storage-"));
		file = join(dir, "codex-accounts.json");
		warnings = [];
		store = new AccountStore({ path: () => file, onWarning: (m) => warnings.push(m) });
	});

	afterEach(() => {
		rmSync(dir, { recursive: true, force: true });
	});

	function backups(): string[] {
		return readdirSync(dir).filter((name) => name.startsWith("codex-accounts.json.damaged-"));
	}

	function readStored(): StorageData {
		return JSON.parse(readFileSync(file, "utf8")) as StorageData;
	}

	it("keeps fields it does not know (a newer version's) through every write, legacy fields still go", () => {
		writeFileSync(
			file,
			JSON.stringify({
				version: 1,
				accounts: [
					{ ...account("a@x.com"), planNote: "team", limits: { seats: 3 } },
					{ ...account("b@x.com"), importSource: "codex-cli" },
				],
				activeEmail: "a@x.com",
				newerSetting: { mode: "x" },
			}),
		);
		store.update((data) => {
			data.activeEmail = "b@x.com";
			data.accounts.push(account("c@x.com"));
		});
		store.update((data) => {
			const a = data.accounts.find((entry) => entry.email === "a@x.com");
			if (a) a.quotaExhaustedUntil = 5;
		});
		const stored = readStored() as StorageData & { newerSetting?: unknown };
		expect(Object.keys(stored)).toEqual([
			"$schema",
			"version",
			"accounts",
			"activeEmail",
			"newerSetting",
		]);
		expect(stored.newerSetting).toEqual({ mode: "x" });
		expect(stored.accounts[0]).toEqual({
			...account("a@x.com"),
			planNote: "team",
			limits: { seats: 3 },
			quotaExhaustedUntil: 5,
		});
		expect(stored.accounts[1]).toEqual(account("b@x.com"));
		expect(stored.activeEmail).toBe("b@x.com");
	});

	it("resolves the path through the option", () => {
		expect(store.path).toBe(file);
	});

	it("loads a missing file as empty storage without creating it", () => {
		expect(store.load()).toEqual({ version: 1, accounts: [] });
		expect(readdirSync(dir)).toEqual([]);
		expect(warnings).toEqual([]);
	});

	it("rewrites an old-format file in the current format on load", () => {
		const legacy = {
			...account("a@x.com"),
			importSource: "pi",
			importMode: "m",
			importFingerprint: "f",
		};
		writeFileSync(file, JSON.stringify({ accounts: [legacy], activeEmail: "a@x.com" }));
		const data = store.load();
		expect(data.version).toBe(1);
		expect(data.accounts).toEqual([account("a@x.com")]);
		const text = readFileSync(file, "utf8");
		expect(text).toBe(serializeStorage(data));
		expect(text).not.toContain("import");
		expect(readStored().version).toBe(1);
		expect(backups()).toEqual([]);
		expect(warnings).toEqual([]);
	});

	it("update() writes the file privately (0600) and leaves no temp files", () => {
		const written = store.update((data) => {
			data.accounts.push(account("a@x.com"));
			data.activeEmail = "a@x.com";
		});
		expect(written.accounts.map((a) => a.email)).toEqual(["a@x.com"]);
		expect(statSync(file).mode & 0o777).toBe(0o600);
		expect(readdirSync(dir)).toEqual(["codex-accounts.json"]);
		expect(readFileSync(file, "utf8")).toBe(serializeStorage(written));
		const reloaded = store.load();
		expect(reloaded.accounts).toEqual(written.accounts);
		expect(reloaded.activeEmail).toBe("a@x.com");
	});

	it("update() makes an existing world-readable file private", () => {
		writeFileSync(file, serializeStorage({ version: 1, accounts: [account("a@x.com")] }), {
			mode: 0o644,
		});
		store.update((data) => {
			data.activeEmail = "a@x.com";
		});
		expect(statSync(file).mode & 0o777).toBe(0o600);
		expect(readStored().activeEmail).toBe("a@x.com");
		expect(readdirSync(dir)).toEqual(["codex-accounts.json"]);
	});

	it("update() applies changes to fresh data (two stores, one file)", () => {
		const other = new AccountStore({ path: () => file });
		store.update((data) => {
			data.accounts.push(account("a@x.com"));
		});
		other.update((data) => {
			data.accounts.push(account("b@x.com"));
		});
		expect(readStored().accounts.map((a) => a.email)).toEqual(["a@x.com", "b@x.com"]);
	});

	it("copies a truncated file aside byte for byte and keeps the complete accounts", () => {
		const full = serializeStorage({
			version: 1,
			accounts: [account("a@x.com"), account("b@x.com")],
			activeEmail: "a@x.com",
		});
		const truncated = full.slice(0, full.indexOf("b@x.com") + 4);
		writeFileSync(file, truncated);

		const data = store.load();

		expect(data.accounts).toEqual([account("a@x.com")]);
		const [backup, ...more] = backups();
		expect(more).toEqual([]);
		expect(backup).toBeDefined();
		expect(readFileSync(join(dir, backup!), "utf8")).toBe(truncated);
		expect(warnings).toHaveLength(1);
		expect(warnings[0]).toContain(join(dir, backup!));
		// Never replaced by an empty list: the salvaged account is still in the file.
		expect(readStored().accounts.map((a) => a.email)).toEqual(["a@x.com"]);
	});

	it("copies a file that is not JSON aside byte for byte and warns where", () => {
		const garbage = "\u0000\u00ffthis is not JSON at all {";
		writeFileSync(file, garbage);
		const data = store.load();
		expect(data.accounts).toEqual([]);
		const [backup] = backups();
		expect(backup).toBeDefined();
		expect(readFileSync(join(dir, backup!), "utf8")).toBe(garbage);
		expect(warnings).toHaveLength(1);
		expect(warnings[0]).toContain(`${file}.damaged-`);
		expect(warnings[0]).toContain(join(dir, backup!));
	});

	it("salvages accounts from a top-level array", () => {
		const text = JSON.stringify([account("a@x.com"), { email: "broken" }]);
		writeFileSync(file, text);
		const data = store.load();
		expect(data.accounts).toEqual([account("a@x.com")]);
		expect(backups()).toHaveLength(1);
		expect(readFileSync(join(dir, backups()[0]!), "utf8")).toBe(text);
	});

	it("copies a file with invalid accounts aside and keeps the valid ones", () => {
		const text = JSON.stringify(
			{
				version: 1,
				accounts: [account("a@x.com"), { email: "bad@x.com", accessToken: 5 }, account("c@x.com")],
				activeEmail: "c@x.com",
			},
			null,
			"\t",
		);
		writeFileSync(file, text);

		const data = store.load();

		expect(data.accounts.map((a) => a.email)).toEqual(["a@x.com", "c@x.com"]);
		expect(data.activeEmail).toBe("c@x.com");
		const [backup] = backups();
		expect(backup).toBeDefined();
		expect(readFileSync(join(dir, backup!), "utf8")).toBe(text);
		expect(warnings).toHaveLength(1);
		expect(warnings[0]).toContain(join(dir, backup!));
		expect(readStored().accounts.map((a) => a.email)).toEqual(["a@x.com", "c@x.com"]);
	});

	it("update() on a damaged file keeps the salvaged accounts and backs it up once", () => {
		const text = `{"version":1,"accounts":[${JSON.stringify(account("a@x.com"))},{"email":`;
		writeFileSync(file, text);
		const written = store.update((data) => {
			data.accounts.push(account("b@x.com"));
		});
		expect(written.accounts.map((a) => a.email)).toEqual(["a@x.com", "b@x.com"]);
		expect(readStored().accounts.map((a) => a.email)).toEqual(["a@x.com", "b@x.com"]);
		expect(backups()).toHaveLength(1);
		expect(readFileSync(join(dir, backups()[0]!), "utf8")).toBe(text);
		expect(warnings).toHaveLength(1);
	});

	// SPEC A1/B8: a document that fails the schema is salvaged and copied aside; a file whose
	// `accounts` is not an array fails the schema. migrateStorage() instead replaces the value
	// with [] before validating, so the document passes as "valid, no accounts": no backup, no
	// warning, and the next update() writes an empty list over the user's data.
	it("copies a file whose accounts is not an array aside before it can be overwritten", () => {
		const text = JSON.stringify({ version: 1, accounts: { "a@x.com": account("a@x.com") } });
		writeFileSync(file, text);
		store.load();
		store.update((data) => {
			data.activeEmail = undefined;
		});
		const kept = backups().map((name) => readFileSync(join(dir, name), "utf8"));
		const stillThere = readFileSync(file, "utf8") === text;
		expect(stillThere || kept.includes(text)).toBe(true);
		expect(warnings.length).toBeGreaterThan(0);
	});
});

describe("JSON schema", () => {
	it("the committed schemas/codex-accounts.schema.json is up to date", () => {
		expect(readFileSync(SCHEMA_PATH, "utf8")).toBe(renderStorageJsonSchema());
	});

	it("describes the account fields", () => {
		const schema = JSON.parse(renderStorageJsonSchema()) as {
			$defs: Record<string, { required?: string[]; properties?: Record<string, unknown> }>;
		};
		const accountDef = schema.$defs.Account;
		expect(accountDef?.required?.sort()).toEqual(
			["accessToken", "email", "expiresAt", "refreshToken"].sort(),
		);
		expect(Object.keys(accountDef?.properties ?? {})).toEqual(
			expect.arrayContaining(["accountId", "lastUsed", "quotaExhaustedUntil", "needsReauth"]),
		);
	});
});
