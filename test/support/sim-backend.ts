// Simulated ChatGPT Codex backend (+ OpenAI OAuth server) on 127.0.0.1 for end-to-end tests.
// Serves the Codex responses endpoint over SSE and WebSocket, the wham usage endpoint and the
// OAuth authorize/token endpoints, with per-account usage, exhaustion and fault injection.
// Requests are recorded in `state.requests`; tokens are never logged or recorded verbatim.
import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { decompress as zstdDecompress } from "fzstd";
import { type WebSocket, WebSocketServer } from "ws";
import {
	decodeSimToken,
	makeAccessToken,
	makeIdToken,
	makeRefreshToken,
	registerToken,
} from "./sim-tokens.ts";

export const SIM_CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann";
export const RESPONSES_PATH = "/backend-api/codex/responses";
export const USAGE_PATH = "/backend-api/wham/usage";

export interface SimUsage {
	primaryUsedPercent: number;
	primaryWindowMinutes: number;
	/** Unix seconds. */
	primaryResetAt: number;
	secondaryUsedPercent: number;
	secondaryWindowMinutes: number;
	/** Unix seconds. */
	secondaryResetAt: number;
}

export interface SimAccountConfig {
	email: string;
	accountId?: string;
	/** Pre-existing credentials to accept (e.g. carried over from another backend instance). */
	accessToken?: string;
	refreshToken?: string;
	/** Lifetime of newly minted access tokens (default 3600). */
	expiresInSec?: number;
	planType?: string;
	usage?: Partial<SimUsage>;
	/** 429 usage_limit_reached (SSE) / error event (WS). */
	exhausted?: boolean;
	/** usage_not_included (HTTP `notIncludedStatus`, default 429 like the real backend). */
	notIncluded?: boolean;
	notIncludedStatus?: 403 | 429;
	/** Plain 429 rate_limit_exceeded. */
	rateLimited?: boolean;
	/** Answer text; default `Answered by <email>`. */
	answer?: string;
}

export interface SimAccount {
	email: string;
	accountId: string;
	planType: string;
	expiresInSec: number;
	usage: SimUsage;
	exhausted: boolean;
	notIncluded: boolean;
	notIncludedStatus: 403 | 429;
	rateLimited: boolean;
	answer?: string;
}

export type SimFaultKind = "delay" | "http500" | "reset" | "malformed" | "stall";

export interface SimFault {
	kind: SimFaultKind;
	/** delay: ms before headers / first event. stall: ms to hold the stream open (default: until close). */
	ms?: number;
	/** How many requests it applies to (default 1). */
	times?: number;
	email?: string;
	transport?: "sse" | "ws";
}

export interface SimRequestRecord {
	at: number;
	transport: "sse" | "ws" | "http";
	path: string;
	method: string;
	status: number;
	email?: string;
	accountId?: string;
	/** Stable non-secret id of the bearer/refresh token used ("t3"). */
	tokenId?: string;
	grantType?: string;
	/** Parsed JSON body of responses requests. */
	body?: unknown;
	contentEncoding?: string;
	wsConnectionId?: number;
	fault?: SimFaultKind;
	error?: string;
}

export interface SimWsConnection {
	id: number;
	email: string;
	accountId: string;
	tokenId: string;
	openedAt: number;
	closedAt?: number;
	messages: number;
}

export interface SimBackendOptions {
	accounts?: SimAccountConfig[];
	/** Send a `codex.rate_limits` event before each WS answer. */
	wsRateLimitsEvent?: boolean;
	/** Refuse every authenticated WS upgrade with HTTP 429 (forces pi's SSE fallback). */
	wsRefuseUpgradeWith429?: boolean;
	usageDelayMs?: number;
	usageFailStatus?: number;
	tokenDelayMs?: number;
	tokenFailStatus?: number;
	/** Account chosen by the next /oauth/authorize (consumed). */
	nextLoginEmail?: string;
	/** Delay between SSE/WS answer chunks (default 5 ms). */
	chunkDelayMs?: number;
}

interface TokenInfo {
	id: string;
	kind: "access" | "refresh";
	email: string;
	/** Access tokens: ms epoch. */
	expiresAt?: number;
	used?: boolean;
	revoked?: boolean;
}

interface AuthCode {
	email: string;
	challenge: string;
	redirectUri: string;
	used: boolean;
	expiresAt: number;
}

export interface SimCredentials {
	access: string;
	refresh: string;
	/** ms epoch, pi's format. */
	expires: number;
	accountId: string;
	email: string;
}

export interface SimBackendState {
	accounts: SimAccount[];
	requests: SimRequestRecord[];
	wsConnections: SimWsConnection[];
	faults: (SimFault & { remaining: number })[];
	options: Required<Omit<SimBackendOptions, "accounts" | "nextLoginEmail">> & {
		nextLoginEmail?: string;
	};
}

export interface SimBackend {
	url: string;
	port: number;
	state: SimBackendState;
	account(email: string): SimAccount;
	addAccount(config: SimAccountConfig): SimAccount;
	/** Mint a fresh access/refresh pair for an account. */
	issueTokens(email: string, opts?: { expiresInSec?: number }): SimCredentials;
	setUsage(email: string, usage: Partial<SimUsage>): void;
	setExhausted(email: string, exhausted?: boolean): void;
	revokeAccessToken(token: string): void;
	fault(fault: SimFault): void;
	clearFaults(): void;
	/** Non-secret id of a token this backend knows ("t3"), for comparing with records. */
	tokenId(token: string): string | undefined;
	countRequests(
		filter?: Partial<
			Pick<SimRequestRecord, "transport" | "path" | "email" | "status" | "grantType" | "method">
		>,
	): number;
	responsesFor(email: string): SimRequestRecord[];
	refreshGrants(): SimRequestRecord[];
	close(): Promise<void>;
}

const nowSec = () => Math.floor(Date.now() / 1000);
const rand = (bytes = 8) => randomBytes(bytes).toString("hex");

function makeAccount(config: SimAccountConfig, index: number): SimAccount {
	const now = nowSec();
	return {
		email: config.email,
		accountId: config.accountId ?? `acct-sim-${index + 1}-${rand(4)}`,
		planType: config.planType ?? "plus",
		expiresInSec: config.expiresInSec ?? 3600,
		usage: {
			primaryUsedPercent: config.exhausted ? 100 : 10,
			primaryWindowMinutes: 300,
			primaryResetAt: now + 3600,
			secondaryUsedPercent: 20,
			secondaryWindowMinutes: 10080,
			secondaryResetAt: now + 3 * 86400,
			...config.usage,
		},
		exhausted: config.exhausted ?? false,
		notIncluded: config.notIncluded ?? false,
		notIncludedStatus: config.notIncludedStatus ?? 429,
		rateLimited: config.rateLimited ?? false,
		answer: config.answer,
	};
}

export function rateLimitHeaders(account: SimAccount): Record<string, string> {
	const u = account.usage;
	const now = nowSec();
	return {
		"x-codex-primary-used-percent": String(u.primaryUsedPercent),
		"x-codex-primary-window-minutes": String(u.primaryWindowMinutes),
		"x-codex-primary-reset-at": String(u.primaryResetAt),
		"x-codex-primary-reset-after-seconds": String(Math.max(0, u.primaryResetAt - now)),
		"x-codex-secondary-used-percent": String(u.secondaryUsedPercent),
		"x-codex-secondary-window-minutes": String(u.secondaryWindowMinutes),
		"x-codex-secondary-reset-at": String(u.secondaryResetAt),
		"x-codex-secondary-reset-after-seconds": String(Math.max(0, u.secondaryResetAt - now)),
	};
}

const SERVER_ERROR = {
	type: "server_error",
	code: "server_error",
	message: "Simulated internal server error",
};
const RATE_LIMIT_ERROR = {
	type: "rate_limit_exceeded",
	code: "rate_limit_exceeded",
	message: "Rate limit reached. Please try again later.",
};

/** The error object the real backend returns for a blocked account, or undefined if it may answer. */
function accountBlock(
	account: SimAccount,
): { status: number; error: Record<string, unknown> } | undefined {
	const u = account.usage;
	if (account.exhausted) {
		const resetsAt = u.secondaryUsedPercent >= 100 ? u.secondaryResetAt : u.primaryResetAt;
		return {
			status: 429,
			error: {
				type: "usage_limit_reached",
				code: "usage_limit_reached",
				message: "The usage limit has been reached",
				plan_type: account.planType,
				resets_at: resetsAt,
				resets_in_seconds: Math.max(0, resetsAt - nowSec()),
			},
		};
	}
	if (account.notIncluded) {
		return {
			status: account.notIncludedStatus,
			error: {
				type: "usage_not_included",
				code: "usage_not_included",
				message: "Codex is not included in your plan",
				plan_type: account.planType,
			},
		};
	}
	if (account.rateLimited) return { status: 429, error: RATE_LIMIT_ERROR };
	return undefined;
}

/** The Codex event sequence for one text answer (same objects for SSE and WS). */
/**
 * The Responses API events of one text answer, its words in `deltaCount` deltas (exported for
 * the streaming benchmark, which feeds them to pi-ai's own Codex provider).
 */
export function answerEvents(
	text: string,
	model: string,
	inputTokens: number,
	deltaCount = 3,
): Record<string, unknown>[] {
	const responseId = `resp_sim_${rand()}`;
	const itemId = `msg_sim_${rand()}`;
	const createdAt = nowSec();
	const words = text.split(/(?<= )/);
	const chunkSize = Math.max(1, Math.ceil(words.length / deltaCount));
	const deltas: string[] = [];
	for (let i = 0; i < words.length; i += chunkSize)
		deltas.push(words.slice(i, i + chunkSize).join(""));
	const outputTokens = Math.max(1, words.length);
	const baseResponse = { id: responseId, object: "response", created_at: createdAt, model };
	const doneItem = {
		id: itemId,
		type: "message",
		status: "completed",
		role: "assistant",
		content: [{ type: "output_text", text, annotations: [] }],
	};
	const events: Record<string, unknown>[] = [
		{ type: "response.created", response: { ...baseResponse, status: "in_progress", output: [] } },
		{
			type: "response.in_progress",
			response: { ...baseResponse, status: "in_progress", output: [] },
		},
		{
			type: "response.output_item.added",
			output_index: 0,
			item: { id: itemId, type: "message", status: "in_progress", role: "assistant", content: [] },
		},
		{
			type: "response.content_part.added",
			item_id: itemId,
			output_index: 0,
			content_index: 0,
			part: { type: "output_text", text: "", annotations: [] },
		},
		...deltas.map((delta) => ({
			type: "response.output_text.delta",
			item_id: itemId,
			output_index: 0,
			content_index: 0,
			delta,
		})),
		{ type: "response.output_text.done", item_id: itemId, output_index: 0, content_index: 0, text },
		{
			type: "response.content_part.done",
			item_id: itemId,
			output_index: 0,
			content_index: 0,
			part: { type: "output_text", text, annotations: [] },
		},
		{ type: "response.output_item.done", output_index: 0, item: doneItem },
		{
			type: "response.completed",
			response: {
				...baseResponse,
				status: "completed",
				output: [doneItem],
				usage: {
					input_tokens: inputTokens,
					input_tokens_details: { cached_tokens: 0 },
					output_tokens: outputTokens,
					output_tokens_details: { reasoning_tokens: 0 },
					total_tokens: inputTokens + outputTokens,
				},
			},
		},
	];
	return events.map((event, i) => ({ ...event, sequence_number: i }));
}

/** Where an answer goes: an SSE response or a WebSocket. */
interface AnswerSink {
	event(event: Record<string, unknown>): void;
	raw(text: string): void;
	error(status: number, error: Record<string, unknown>): void;
	reset(): void;
	gone(): boolean;
	end(): void;
}

function bearer(req: IncomingMessage): string | undefined {
	const header = req.headers.authorization;
	const match = typeof header === "string" ? /^Bearer\s+(.+)$/i.exec(header.trim()) : null;
	return match?.[1];
}

function readBody(req: IncomingMessage): Promise<Buffer> {
	return new Promise((resolve, reject) => {
		const chunks: Buffer[] = [];
		req.on("data", (chunk: Buffer) => chunks.push(chunk));
		req.on("end", () => resolve(Buffer.concat(chunks)));
		req.on("error", reject);
	});
}

function sendJson(
	res: ServerResponse,
	status: number,
	body: unknown,
	headers: Record<string, string> = {},
): void {
	const text = JSON.stringify(body);
	res.writeHead(status, {
		"content-type": "application/json",
		"content-length": Buffer.byteLength(text),
		...headers,
	});
	res.end(text);
}

function refuseUpgrade(
	socket: Socket,
	status: number,
	body: unknown,
	headers: Record<string, string> = {},
): void {
	const text = JSON.stringify(body);
	const reason = status === 401 ? "Unauthorized" : status === 429 ? "Too Many Requests" : "Error";
	const lines = [
		`HTTP/1.1 ${status} ${reason}`,
		"content-type: application/json",
		`content-length: ${Buffer.byteLength(text)}`,
		"connection: close",
		...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
	];
	socket.end(`${lines.join("\r\n")}\r\n\r\n${text}`);
}

function pkceChallenge(verifier: string): string {
	return createHash("sha256").update(verifier).digest("base64url");
}

export async function startSimBackend(options: SimBackendOptions = {}): Promise<SimBackend> {
	const state: SimBackendState = {
		accounts: [],
		requests: [],
		wsConnections: [],
		faults: [],
		options: {
			wsRateLimitsEvent: options.wsRateLimitsEvent ?? false,
			wsRefuseUpgradeWith429: options.wsRefuseUpgradeWith429 ?? false,
			usageDelayMs: options.usageDelayMs ?? 0,
			usageFailStatus: options.usageFailStatus ?? 0,
			tokenDelayMs: options.tokenDelayMs ?? 0,
			tokenFailStatus: options.tokenFailStatus ?? 0,
			chunkDelayMs: options.chunkDelayMs ?? 5,
			nextLoginEmail: options.nextLoginEmail,
		},
	};
	const tokens = new Map<string, TokenInfo>();
	const codes = new Map<string, AuthCode>();
	const timers = new Set<NodeJS.Timeout>();
	let closed = false;
	let tokenCounter = 0;
	let wsCounter = 0;

	const wait = (ms: number) =>
		new Promise<void>((resolve) => {
			if (closed) return resolve();
			const timer = setTimeout(() => {
				timers.delete(timer);
				resolve();
			}, ms);
			timers.add(timer);
		});

	const record = (entry: Omit<SimRequestRecord, "at">) => {
		const full = { at: Date.now(), ...entry };
		state.requests.push(full);
		return full;
	};

	const findAccount = (email: string) => state.accounts.find((a) => a.email === email);
	const account = (email: string) => {
		const found = findAccount(email);
		if (!found) throw new Error(`sim-backend: unknown account ${email}`);
		return found;
	};

	const addToken = (token: string, info: Omit<TokenInfo, "id">) => {
		registerToken(token);
		const id = `t${++tokenCounter}`;
		tokens.set(token, { id, ...info });
		return id;
	};

	const issueTokens = (email: string, opts: { expiresInSec?: number } = {}): SimCredentials => {
		const acct = account(email);
		const expiresInSec = opts.expiresInSec ?? acct.expiresInSec;
		const input = { email, accountId: acct.accountId, expiresInSec, planType: acct.planType };
		const access = makeAccessToken(input);
		const refresh = makeRefreshToken();
		const expires = Date.now() + expiresInSec * 1000;
		addToken(access, { kind: "access", email, expiresAt: expires });
		addToken(refresh, { kind: "refresh", email });
		return { access, refresh, expires, accountId: acct.accountId, email };
	};

	const addAccount = (config: SimAccountConfig) => {
		if (findAccount(config.email))
			throw new Error(`sim-backend: duplicate account ${config.email}`);
		const acct = makeAccount(config, state.accounts.length);
		state.accounts.push(acct);
		if (config.accessToken) {
			const exp = decodeSimToken(config.accessToken)?.exp;
			addToken(config.accessToken, {
				kind: "access",
				email: acct.email,
				expiresAt: exp ? exp * 1000 : Date.now() + acct.expiresInSec * 1000,
			});
		}
		if (config.refreshToken) addToken(config.refreshToken, { kind: "refresh", email: acct.email });
		return acct;
	};
	for (const config of options.accounts ?? []) addAccount(config);

	/** Resolve the bearer token of a request to an account, checking expiry and the account-id header. */
	const authenticate = (req: IncomingMessage, requireAccountHeader: boolean) => {
		const token = bearer(req);
		const info = token ? tokens.get(token) : undefined;
		if (info?.kind !== "access") return { error: "invalid_token" as const, tokenId: info?.id };
		const acct = findAccount(info.email);
		if (!acct) return { error: "invalid_token" as const, tokenId: info.id };
		if (info.revoked || (info.expiresAt !== undefined && info.expiresAt <= Date.now())) {
			return { error: "token_expired" as const, tokenId: info.id, account: acct };
		}
		const header = req.headers["chatgpt-account-id"];
		if ((requireAccountHeader || header !== undefined) && header !== acct.accountId) {
			return { error: "account_mismatch" as const, tokenId: info.id, account: acct };
		}
		return { account: acct, tokenId: info.id };
	};

	const authErrorBody = (error: string) => ({
		error: {
			type: "invalid_request_error",
			code: error,
			message:
				error === "account_mismatch"
					? "chatgpt-account-id does not match the access token"
					: "Your authentication token is invalid or has expired.",
		},
	});

	const takeFault = (email: string, transport: "sse" | "ws") => {
		const index = state.faults.findIndex(
			(f) =>
				f.remaining > 0 &&
				(!f.email || f.email === email) &&
				(!f.transport || f.transport === transport),
		);
		const fault = state.faults[index];
		if (!fault) return undefined;
		fault.remaining--;
		if (fault.remaining <= 0) state.faults.splice(index, 1);
		return fault;
	};

	/** Stream the answer (or the requested fault) through a transport-neutral sink. */
	const streamAnswer = async (
		sink: AnswerSink,
		acct: SimAccount,
		body: Record<string, unknown>,
		rec: SimRequestRecord,
		fault: SimFault | undefined,
	) => {
		if (fault?.kind === "delay") await wait(fault.ms ?? 1000);
		if (fault?.kind === "http500") {
			rec.status = 500;
			return sink.error(500, SERVER_ERROR);
		}
		if (fault?.kind === "reset") {
			rec.status = 0;
			return sink.reset();
		}
		const text = acct.answer ?? `Answered by ${acct.email}`;
		const events = answerEvents(text, String(body.model ?? "unknown"), estimateTokens(body));
		for (const [i, event] of events.entries()) {
			if (closed || sink.gone()) return;
			if (i === 3 && fault?.kind === "malformed") return sink.raw("{this is not json");
			if (i === 5 && fault?.kind === "stall") {
				await wait(fault.ms ?? 24 * 3600_000);
				return sink.reset();
			}
			sink.event(event);
			if (String(event.type).endsWith(".delta")) await wait(state.options.chunkDelayMs);
		}
		sink.end();
	};

	// ---------------------------------------------------------------- SSE responses
	const handleResponses = async (req: IncomingMessage, res: ServerResponse) => {
		const raw = await readBody(req);
		const auth = authenticate(req, true);
		const encoding = req.headers["content-encoding"];
		const rec = (extra: Partial<SimRequestRecord> & { status: number }) =>
			record({
				transport: "sse",
				path: RESPONSES_PATH,
				method: "POST",
				tokenId: auth.tokenId,
				contentEncoding: encoding,
				email: auth.account?.email,
				accountId: auth.account?.accountId,
				...extra,
			});
		if (!auth.account || auth.error) {
			rec({ status: 401, error: auth.error });
			return sendJson(res, 401, authErrorBody(auth.error ?? "invalid_token"));
		}
		const acct = auth.account;
		let body: Record<string, unknown>;
		try {
			const bytes = encoding === "zstd" ? Buffer.from(zstdDecompress(new Uint8Array(raw))) : raw;
			body = JSON.parse(bytes.toString("utf8"));
		} catch (error) {
			rec({ status: 400, error: "bad_body" });
			const message = `Invalid body: ${String(error)}`;
			return sendJson(res, 400, { error: { type: "invalid_request_error", message } });
		}
		const headers = rateLimitHeaders(acct);
		const blocked = accountBlock(acct);
		if (blocked) {
			rec({ status: blocked.status, body, error: String(blocked.error.code) });
			return sendJson(res, blocked.status, { error: blocked.error }, headers);
		}
		const fault = takeFault(acct.email, "sse");
		const sse = { "content-type": "text/event-stream", "cache-control": "no-cache", ...headers };
		const sink: AnswerSink = {
			event: (event) => {
				if (!res.headersSent) res.writeHead(200, sse);
				res.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
			},
			raw: (text) => res.end(`event: response.output_text.delta\ndata: ${text}\n\n`),
			error: (status, error) => sendJson(res, status, { error }, headers),
			reset: () => req.socket.destroy(),
			gone: () => res.destroyed,
			end: () => res.end(),
		};
		await streamAnswer(sink, acct, body, rec({ status: 200, body, fault: fault?.kind }), fault);
	};

	// ---------------------------------------------------------------- WebSocket responses
	const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });

	const serveWsMessage = async (
		ws: WebSocket,
		conn: SimWsConnection,
		acct: SimAccount,
		data: string,
	) => {
		const rec = (extra: Partial<SimRequestRecord> & { status: number }) =>
			record({
				transport: "ws",
				path: RESPONSES_PATH,
				method: "WS",
				email: acct.email,
				accountId: acct.accountId,
				tokenId: conn.tokenId,
				wsConnectionId: conn.id,
				...extra,
			});
		let body: Record<string, unknown>;
		try {
			body = JSON.parse(data);
		} catch {
			rec({ status: 400, error: "bad_json" });
			return;
		}
		if (body.type !== "response.create") return;
		conn.messages++;
		const send = (event: unknown) => {
			if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(event));
		};
		if (state.options.wsRateLimitsEvent) send(rateLimitsEvent(acct));
		const blocked = accountBlock(acct);
		if (blocked) {
			rec({ status: blocked.status, body, error: String(blocked.error.code) });
			// Shape of the real wrapped WebSocket error event: HTTP status + error object + headers.
			const headers = rateLimitHeaders(acct);
			return send({ type: "error", status: blocked.status, error: blocked.error, headers });
		}
		const fault = takeFault(acct.email, "ws");
		const sink: AnswerSink = {
			event: send,
			raw: (text) => ws.send(text),
			error: (status, error) => send({ type: "error", status, error }),
			reset: () => ws.terminate(),
			gone: () => ws.readyState !== ws.OPEN,
			end: () => {},
		};
		await streamAnswer(sink, acct, body, rec({ status: 200, body, fault: fault?.kind }), fault);
	};

	const handleUpgrade = (req: IncomingMessage, socket: Socket, head: Buffer) => {
		const path = new URL(req.url ?? "/", "http://sim").pathname;
		const auth = authenticate(req, true);
		const rec = (extra: Partial<SimRequestRecord> & { status: number }) =>
			record({
				transport: "ws",
				path,
				method: "GET",
				email: auth.account?.email,
				accountId: auth.account?.accountId,
				tokenId: auth.tokenId,
				...extra,
			});
		if (path !== RESPONSES_PATH) {
			rec({ status: 404 });
			return refuseUpgrade(socket, 404, { error: { message: "Not found" } });
		}
		if (!auth.account || auth.error) {
			rec({ status: 401, error: auth.error });
			return refuseUpgrade(socket, 401, authErrorBody(auth.error ?? "invalid_token"));
		}
		const acct = auth.account;
		if (state.options.wsRefuseUpgradeWith429) {
			const error = accountBlock(acct)?.error ?? RATE_LIMIT_ERROR;
			rec({ status: 429, error: String(error.code) });
			return refuseUpgrade(socket, 429, { error }, rateLimitHeaders(acct));
		}
		wss.handleUpgrade(req, socket, head, (ws) => {
			const conn: SimWsConnection = {
				id: ++wsCounter,
				email: acct.email,
				accountId: acct.accountId,
				tokenId: auth.tokenId,
				openedAt: Date.now(),
				messages: 0,
			};
			state.wsConnections.push(conn);
			ws.on("message", (data, isBinary) => {
				const text = isBinary ? Buffer.from(data as Buffer).toString("utf8") : String(data);
				void serveWsMessage(ws, conn, acct, text);
			});
			ws.on("close", () => {
				conn.closedAt = Date.now();
			});
			ws.on("error", () => {});
		});
	};

	// ---------------------------------------------------------------- usage
	const handleUsage = async (req: IncomingMessage, res: ServerResponse) => {
		const auth = authenticate(req, false);
		const base = {
			transport: "http" as const,
			path: USAGE_PATH,
			method: "GET",
			tokenId: auth.tokenId,
		};
		if (state.options.usageDelayMs > 0) await wait(state.options.usageDelayMs);
		if (!auth.account || auth.error) {
			record({ ...base, status: 401, email: auth.account?.email, error: auth.error });
			return sendJson(res, 401, authErrorBody(auth.error ?? "invalid_token"));
		}
		const acct = auth.account;
		const who = { email: acct.email, accountId: acct.accountId };
		if (state.options.usageFailStatus) {
			record({
				...base,
				...who,
				status: state.options.usageFailStatus,
				error: "simulated_failure",
			});
			return sendJson(res, state.options.usageFailStatus, { detail: "Simulated usage failure" });
		}
		record({ ...base, ...who, status: 200 });
		const u = acct.usage;
		const window = (used: number, minutes: number, resetAt: number) => ({
			used_percent: used,
			limit_window_seconds: minutes * 60,
			reset_after_seconds: Math.max(0, resetAt - nowSec()),
			reset_at: resetAt,
		});
		const limitReached =
			acct.exhausted || u.primaryUsedPercent >= 100 || u.secondaryUsedPercent >= 100;
		sendJson(res, 200, {
			plan_type: acct.planType,
			rate_limit: {
				allowed: !limitReached,
				limit_reached: limitReached,
				primary_window: window(u.primaryUsedPercent, u.primaryWindowMinutes, u.primaryResetAt),
				secondary_window: window(
					u.secondaryUsedPercent,
					u.secondaryWindowMinutes,
					u.secondaryResetAt,
				),
			},
			credits: null,
		});
	};

	// ---------------------------------------------------------------- OAuth
	const handleAuthorize = (res: ServerResponse, url: URL) => {
		const q = url.searchParams;
		const base = { transport: "http" as const, path: url.pathname, method: "GET" };
		const fail = (message: string) => {
			record({ ...base, status: 400, error: message });
			sendJson(res, 400, { error: "invalid_request", error_description: message });
		};
		if (q.get("response_type") !== "code") return fail("response_type must be code");
		if (q.get("client_id") !== SIM_CLIENT_ID) return fail("unknown client_id");
		const redirectUri = q.get("redirect_uri");
		if (!redirectUri) return fail("missing redirect_uri");
		const challenge = q.get("code_challenge");
		if (!challenge || q.get("code_challenge_method") !== "S256") return fail("PKCE S256 required");
		let email = q.get("login_hint") ?? state.options.nextLoginEmail;
		if (!q.get("login_hint")) state.options.nextLoginEmail = undefined;
		if (!email && state.accounts.length === 1) email = state.accounts[0]?.email;
		const acct = email ? findAccount(email) : undefined;
		if (!acct) return fail("no simulated login selected (set nextLoginEmail or login_hint)");
		const code = `sim-code-${rand(12)}`;
		codes.set(code, {
			email: acct.email,
			challenge,
			redirectUri,
			used: false,
			expiresAt: Date.now() + 10 * 60_000,
		});
		const location = new URL(redirectUri);
		location.searchParams.set("code", code);
		const stateParam = q.get("state");
		if (stateParam !== null) location.searchParams.set("state", stateParam);
		record({ ...base, status: 302, email: acct.email, accountId: acct.accountId });
		res.writeHead(302, { location: location.toString() });
		res.end();
	};

	const handleToken = async (req: IncomingMessage, res: ServerResponse) => {
		const raw = (await readBody(req)).toString("utf8");
		const form = (req.headers["content-type"] ?? "").includes("application/json")
			? new URLSearchParams(Object.entries(JSON.parse(raw || "{}")).map(([k, v]) => [k, String(v)]))
			: new URLSearchParams(raw);
		const grantType = form.get("grant_type") ?? undefined;
		const base = { transport: "http" as const, path: "/oauth/token", method: "POST", grantType };
		if (state.options.tokenDelayMs > 0) await wait(state.options.tokenDelayMs);
		const fail = (
			status: number,
			error: string,
			description: string,
			extra: Partial<SimRequestRecord> = {},
		) => {
			record({ ...base, ...extra, status, error });
			sendJson(res, status, { error, error_description: description });
		};
		if (state.options.tokenFailStatus) {
			return fail(
				state.options.tokenFailStatus,
				"server_error",
				"Simulated token endpoint failure",
			);
		}
		if (form.get("client_id") !== SIM_CLIENT_ID)
			return fail(401, "invalid_client", "Unknown client_id");
		let email: string;
		let extra: Partial<SimRequestRecord> = {};
		if (grantType === "authorization_code") {
			const code = codes.get(form.get("code") ?? "");
			if (!code || code.used || code.expiresAt < Date.now())
				return fail(400, "invalid_grant", "Invalid or used authorization code");
			code.used = true;
			if (form.get("redirect_uri") !== code.redirectUri)
				return fail(400, "invalid_grant", "redirect_uri mismatch");
			if (pkceChallenge(form.get("code_verifier") ?? "") !== code.challenge)
				return fail(400, "invalid_grant", "PKCE verification failed");
			email = code.email;
		} else if (grantType === "refresh_token") {
			const info = tokens.get(form.get("refresh_token") ?? "");
			extra = { tokenId: info?.id, email: info?.email };
			if (info?.kind !== "refresh" || info.used || info.revoked) {
				return fail(
					400,
					"invalid_grant",
					info?.used ? "Refresh token has already been used" : "Unknown refresh token",
					extra,
				);
			}
			info.used = true;
			email = info.email;
		} else {
			return fail(400, "unsupported_grant_type", `Unsupported grant_type ${grantType}`);
		}
		const acct = account(email);
		const creds = issueTokens(email);
		const idToken = makeIdToken({
			email,
			accountId: acct.accountId,
			expiresInSec: acct.expiresInSec,
			planType: acct.planType,
		});
		record({ ...base, ...extra, status: 200, email, accountId: acct.accountId });
		sendJson(res, 200, {
			access_token: creds.access,
			refresh_token: creds.refresh,
			id_token: idToken,
			token_type: "Bearer",
			expires_in: acct.expiresInSec,
			scope: "openid profile email offline_access",
		});
	};

	// ---------------------------------------------------------------- server
	const server = createServer((req, res) => {
		const url = new URL(req.url ?? "/", "http://sim");
		const route = `${req.method} ${url.pathname}`;
		const handle = async () => {
			if (route === `POST ${RESPONSES_PATH}`) return handleResponses(req, res);
			if (route === `GET ${USAGE_PATH}`) return handleUsage(req, res);
			if (route === "GET /oauth/authorize") return handleAuthorize(res, url);
			if (route === "POST /oauth/token") return handleToken(req, res);
			await readBody(req);
			record({ transport: "http", path: url.pathname, method: req.method ?? "GET", status: 404 });
			sendJson(res, 404, { error: { message: `No simulated route for ${route}` } });
		};
		handle().catch((error) => {
			if (!res.headersSent)
				sendJson(res, 500, { error: { message: `sim-backend failure: ${String(error)}` } });
			else res.destroy();
		});
	});
	server.on("upgrade", handleUpgrade);
	await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
	const port = (server.address() as AddressInfo).port;

	const backend: SimBackend = {
		url: `http://127.0.0.1:${port}`,
		port,
		state,
		account,
		addAccount,
		issueTokens,
		setUsage: (email, usage) => Object.assign(account(email).usage, usage),
		setExhausted: (email, exhausted = true) => {
			account(email).exhausted = exhausted;
		},
		revokeAccessToken: (token) => {
			const info = tokens.get(token);
			if (info) info.revoked = true;
		},
		fault: (fault) => {
			state.faults.push({ ...fault, remaining: fault.times ?? 1 });
		},
		clearFaults: () => {
			state.faults.length = 0;
		},
		tokenId: (token) => tokens.get(token)?.id,
		countRequests: (filter = {}) =>
			state.requests.filter((r) =>
				Object.entries(filter).every(([k, v]) => r[k as keyof SimRequestRecord] === v),
			).length,
		responsesFor: (email) =>
			state.requests.filter(
				(r) => r.path === RESPONSES_PATH && r.email === email && r.method !== "GET",
			),
		refreshGrants: () => state.requests.filter((r) => r.grantType === "refresh_token"),
		close: async () => {
			closed = true;
			for (const timer of timers) clearTimeout(timer);
			timers.clear();
			for (const client of wss.clients) client.terminate();
			wss.close();
			server.closeAllConnections();
			await new Promise<void>((resolve) => server.close(() => resolve()));
		},
	};
	return backend;
}

/**
 * Invented shape of the `codex.rate_limits` WebSocket event (sent before an answer when
 * `wsRateLimitsEvent` is on). Mirrors the x-codex-* headers:
 * `{ type: "codex.rate_limits", plan_type, rate_limits: { primary: { used_percent, window_minutes,
 * reset_at }, secondary: { used_percent, window_minutes, reset_at } } }` (reset_at in unix seconds).
 */
export function rateLimitsEvent(account: SimAccount): Record<string, unknown> {
	const u = account.usage;
	return {
		type: "codex.rate_limits",
		plan_type: account.planType,
		rate_limits: {
			primary: {
				used_percent: u.primaryUsedPercent,
				window_minutes: u.primaryWindowMinutes,
				reset_at: u.primaryResetAt,
			},
			secondary: {
				used_percent: u.secondaryUsedPercent,
				window_minutes: u.secondaryWindowMinutes,
				reset_at: u.secondaryResetAt,
			},
		},
	};
}

function estimateTokens(body: Record<string, unknown>): number {
	return Math.max(1, Math.ceil(JSON.stringify(body.input ?? "").length / 4));
}
