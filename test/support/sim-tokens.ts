// Fake, obviously-simulated ChatGPT/Codex OAuth tokens for the test backend.
// Access/id tokens are JWT-shaped (`base64(header).base64(payload).simulated-signature`) so the
// Codex provider can read the account id with `atob`; every token minted here is remembered so
// tests can scan pi's output for leaked secrets.
import { randomBytes } from "node:crypto";

export const JWT_AUTH_CLAIM = "https://api.openai.com/auth";
export const JWT_PROFILE_CLAIM = "https://api.openai.com/profile";
export const SIM_SIGNATURE = "simulated-signature";

export interface SimTokenPayload {
	iss: string;
	aud: string[];
	sub: string;
	iat: number;
	exp: number;
	jti: string;
	email?: string;
	[JWT_AUTH_CLAIM]: {
		chatgpt_account_id: string;
		chatgpt_plan_type: string;
		chatgpt_user_id: string;
	};
	[JWT_PROFILE_CLAIM]: { email: string; email_verified: boolean };
}

const issued = new Set<string>();

/** Standard base64 (not base64url) without padding: decodes with the browser `atob`. */
function b64(value: unknown): string {
	return Buffer.from(JSON.stringify(value)).toString("base64").replace(/=+$/, "");
}

function nonce(): string {
	return randomBytes(12).toString("hex");
}

function remember(token: string): string {
	issued.add(token);
	return token;
}

export interface MakeTokenInput {
	email: string;
	accountId: string;
	/** Lifetime in seconds from now (may be negative for an already-expired token). */
	expiresInSec: number;
	planType?: string;
}

function makeJwt(input: MakeTokenInput, audience: string): string {
	const now = Math.floor(Date.now() / 1000);
	const payload: SimTokenPayload = {
		iss: "https://auth.openai.com",
		aud: [audience],
		sub: `sim|${input.accountId}`,
		iat: now,
		exp: now + input.expiresInSec,
		jti: nonce(),
		email: input.email,
		[JWT_AUTH_CLAIM]: {
			chatgpt_account_id: input.accountId,
			chatgpt_plan_type: input.planType ?? "plus",
			chatgpt_user_id: `user-sim-${input.accountId}`,
		},
		[JWT_PROFILE_CLAIM]: { email: input.email, email_verified: true },
	};
	return remember(
		`${b64({ alg: "none", typ: "JWT", sim: true })}.${b64(payload)}.${SIM_SIGNATURE}`,
	);
}

/** A JWT-shaped access token carrying the chatgpt account id and email. */
export function makeAccessToken(input: MakeTokenInput): string {
	return makeJwt(input, "https://api.openai.com/v1");
}

/** A JWT-shaped id token (same claims, different audience). */
export function makeIdToken(input: MakeTokenInput): string {
	return makeJwt(input, "app_EMoamEEZ73f0CkXaXp7hrann");
}

/** An opaque refresh token: `sim-refresh-<random>`. */
export function makeRefreshToken(): string {
	return remember(`sim-refresh-${randomBytes(18).toString("hex")}`);
}

/** Register an externally supplied token (e.g. from account config) so leak scans include it. */
export function registerToken(token: string): void {
	issued.add(token);
}

/** Decode the payload of a simulated JWT; undefined if it is not one. */
export function decodeSimToken(token: string): SimTokenPayload | undefined {
	const [, payload, signature, ...rest] = token.split(".");
	if (!payload || signature !== SIM_SIGNATURE || rest.length > 0) return undefined;
	try {
		return JSON.parse(atob(payload)) as SimTokenPayload;
	} catch {
		return undefined;
	}
}

/** Every token minted (or registered) in this process, newest last. */
export function allIssuedTokens(): string[] {
	return [...issued];
}

/**
 * Return a description (never the token itself) of every issued token that appears in `text`.
 * Also catches a JWT payload segment printed on its own.
 */
export function findLeakedTokens(text: string, tokens: Iterable<string> = issued): string[] {
	const leaks: string[] = [];
	let index = 0;
	for (const token of tokens) {
		index++;
		const payload = token.split(".")[1];
		if (text.includes(token) || (payload && payload.length > 40 && text.includes(payload))) {
			leaks.push(`${token.startsWith("sim-refresh-") ? "refresh" : "jwt"} token #${index}`);
		}
	}
	return leaks;
}
