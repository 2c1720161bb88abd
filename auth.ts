// Reading pi's own OpenAI Codex login from auth.json (read only: we never write pi's file)
// and the identity claims inside a Codex access token.
import type { OAuthCredentials } from "@mariozechner/pi-ai";
import {
	getAgentAuthPath,
	isJsonObject,
	readJsonObjectFile,
	rememberSecrets,
} from "./provider-utils.ts";

const IMPORTED_ACCOUNT_PREFIX = "OpenAI Codex";
const PROFILE_CLAIM = "https://api.openai.com/profile";
const AUTH_CLAIM = "https://api.openai.com/auth";

export interface ImportedOpenAICodexAuth {
	identifier: string;
	credentials: OAuthCredentials & { accountId?: string };
}

function nonEmptyString(value: unknown): string | undefined {
	return typeof value === "string" && value.trim() ? value.trim() : undefined;
}

export function decodeJwtPayload(token: string): Record<string, unknown> | undefined {
	const parts = token.split(".");
	if (parts.length !== 3 || !parts[1]) return undefined;
	try {
		const normalized = parts[1].replace(/-/g, "+").replace(/_/g, "/");
		const decoded = Buffer.from(normalized, "base64").toString("utf8");
		const parsed: unknown = JSON.parse(decoded);
		return isJsonObject(parsed) ? parsed : undefined;
	} catch {
		return undefined;
	}
}

/** The e-mail in the token's profile claim, if any. */
export function getTokenEmail(accessToken: string): string | undefined {
	const profile = decodeJwtPayload(accessToken)?.[PROFILE_CLAIM];
	return isJsonObject(profile) ? nonEmptyString(profile.email) : undefined;
}

/** The ChatGPT account id in the token's auth claim, if any. */
export function getTokenAccountId(accessToken: string): string | undefined {
	const auth = decodeJwtPayload(accessToken)?.[AUTH_CLAIM];
	return isJsonObject(auth) ? nonEmptyString(auth.chatgpt_account_id) : undefined;
}

/** A stable identity for "same person": account id plus user e-mail when the token has them. */
export function getTokenIdentity(accessToken: string): string | undefined {
	const email = getTokenEmail(accessToken);
	const accountId = getTokenAccountId(accessToken);
	if (!email && !accountId) return undefined;
	return `${accountId ?? "?"}/${email?.toLowerCase() ?? "?"}`;
}

export function parseImportedOpenAICodexAuth(
	auth: Record<string, unknown>,
): ImportedOpenAICodexAuth | undefined {
	const entry = auth["openai-codex"];
	if (!isJsonObject(entry) || entry.type !== "oauth") return undefined;
	const access = nonEmptyString(entry.access);
	const refresh = nonEmptyString(entry.refresh);
	const expires = entry.expires;
	if (!access || !refresh || typeof expires !== "number") return undefined;
	const accountId = nonEmptyString(entry.accountId) ?? nonEmptyString(entry.account_id);
	const identifier =
		getTokenEmail(access) ?? `${IMPORTED_ACCOUNT_PREFIX} ${(accountId ?? "default").slice(0, 8)}`;
	return { identifier, credentials: { access, refresh, expires, accountId } };
}

/**
 * pi's login, or undefined when auth.json is missing, unreadable, damaged or holds none (SPEC
 * A1: anything else means "no pi-auth account"; pi itself reports a broken auth.json). Its
 * tokens are remembered as secrets, so no later message can show them.
 */
export async function loadImportedOpenAICodexAuth(
	path = getAgentAuthPath(),
): Promise<ImportedOpenAICodexAuth | undefined> {
	let read: Awaited<ReturnType<typeof readJsonObjectFile>>;
	try {
		read = await readJsonObjectFile(path);
	} catch {
		return undefined;
	}
	if (read.kind !== "ok") return undefined;
	const imported = parseImportedOpenAICodexAuth(read.value);
	if (imported) rememberSecrets(imported.credentials.access, imported.credentials.refresh);
	return imported;
}
