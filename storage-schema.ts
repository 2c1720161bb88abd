// The format of `codex-accounts.json`, defined once with zod (the JSON schema in schemas/ is
// generated from it). zod is loaded on first use only, through Node's own `require`: importing
// it through pi's extension loader cost more than a healthy start needs (a healthy file is
// checked by `parseCurrentStorage`, which a test keeps in agreement with this schema).
import { createRequire } from "node:module";
import type { z } from "zod";
import { isJsonObject } from "./provider-utils.ts";

type Zod = typeof z;

function buildSchemas(zod: Zod) {
	const account = zod
		.object({
			email: zod.string().min(1).meta({ description: "Account identifier (usually an e-mail)" }),
			accessToken: zod.string().min(1).meta({ description: "OAuth access token (JWT)" }),
			refreshToken: zod.string().min(1).meta({ description: "OAuth refresh token" }),
			expiresAt: zod.number().meta({ description: "Access token expiry (ms since epoch)" }),
			accountId: zod.string().optional().meta({ description: "ChatGPT account id" }),
			lastUsed: zod.number().optional().meta({ description: "Last manual selection (ms)" }),
			quotaExhaustedUntil: zod.number().optional().meta({ description: "Quota cooldown end (ms)" }),
			needsReauth: zod.boolean().optional().meta({ description: "Needs a new login" }),
			codexNotIncluded: zod.boolean().optional().meta({
				description:
					"Its ChatGPT plan does not include Codex: not used until a new login or a quota reset",
			}),
		})
		// Fields this version does not know (a newer MultiCodex in another pi window) are kept.
		.loose()
		.meta({ id: "Account", description: "A managed OpenAI Codex account" });
	const storage = zod
		.object({
			$schema: zod.string().optional().meta({ description: "JSON Schema reference for editors" }),
			version: zod.number().int().positive().meta({ description: "Storage format version" }),
			accounts: zod.array(account).meta({ description: "Managed accounts" }),
			activeEmail: zod
				.string()
				.optional()
				.meta({ description: "Identifier of the active account" }),
		})
		.loose()
		.meta({ id: "MultiCodexStorage", description: "MultiCodex managed account storage" });
	return { account, storage };
}

type Schemas = ReturnType<typeof buildSchemas>;
export type Account = z.infer<Schemas["account"]>;
export type StorageData = z.infer<Schemas["storage"]>;

let schemas: Schemas | undefined;

/** The zod schemas (loads zod on first call). */
export function getStorageSchemas(): Schemas {
	if (!schemas) {
		const zod = (createRequire(import.meta.url)("zod") as { z: Zod }).z;
		schemas = buildSchemas(zod);
	}
	return schemas;
}

const ACCOUNT_STRINGS = ["email", "accessToken", "refreshToken"] as const;

function isNonEmptyString(value: unknown): value is string {
	return typeof value === "string" && value.length > 0;
}

function isOptional(value: unknown, type: "string" | "number" | "boolean"): boolean {
	return value === undefined || typeof value === type;
}

function parseAccountFast(value: unknown): Account | undefined {
	if (!isJsonObject(value)) return undefined;
	for (const key of ACCOUNT_STRINGS) if (!isNonEmptyString(value[key])) return undefined;
	if (typeof value.expiresAt !== "number" || !Number.isFinite(value.expiresAt)) return undefined;
	if (!isOptional(value.accountId, "string")) return undefined;
	for (const key of ["lastUsed", "quotaExhaustedUntil"] as const) {
		const n = value[key];
		if (n !== undefined && (typeof n !== "number" || !Number.isFinite(n))) return undefined;
	}
	for (const key of ["needsReauth", "codexNotIncluded"] as const) {
		if (!isOptional(value[key], "boolean")) return undefined;
	}
	// Every field checked; the others (a newer version's) are kept as they are, as zod's loose
	// object keeps them.
	const account = { ...value } as Account;
	return account;
}

/**
 * What `StorageSchema.parse` gives for a document in the current format, without loading zod;
 * undefined when the document is not one (then zod decides, see `migrateStorage`).
 */
export function parseCurrentStorage(document: unknown): StorageData | undefined {
	if (!isJsonObject(document)) return undefined;
	const { version, accounts, activeEmail, $schema } = document;
	if (typeof version !== "number" || !Number.isSafeInteger(version) || version <= 0)
		return undefined;
	if (!Array.isArray(accounts)) return undefined;
	if (!isOptional(activeEmail, "string") || !isOptional($schema, "string")) return undefined;
	const parsed: Account[] = [];
	for (const entry of accounts) {
		const account = parseAccountFast(entry);
		if (!account) return undefined;
		parsed.push(account);
	}
	return { ...document, accounts: parsed } as StorageData;
}
