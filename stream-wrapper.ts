// The request path: picks an account, calls pi-ai's Codex provider with its token, and when
// the answer is a quota answer before any output, switches account and tries again at once.

import { randomUUID } from "node:crypto";
import type {
	Api,
	AssistantMessageEvent,
	AssistantMessageEventStream,
	Context,
	Model,
	SimpleStreamOptions,
} from "@mariozechner/pi-ai";
import type { AccountManager } from "./account-manager.ts";
import { EventRelay } from "./event-relay.ts";
import { CODEX_API, CODEX_PROVIDER, closeCodexSessionSockets } from "./pi-adapter.ts";
import {
	createAssistantMessage,
	createErrorAssistantMessage,
	createLinkedAbortController,
	normalizeUnknownError,
	rewriteProviderOnEvent,
} from "./provider-utils.ts";
import {
	classifyQuotaErrorMessage,
	classifyQuotaEvent,
	classifyQuotaResponse,
	isQuotaErrorMessage,
	type QuotaKind,
	type QuotaSignal,
} from "./quota.ts";
import {
	ensureGlobalQuotaBodyProbe,
	forgetQuotaBody,
	probeQuotaBodies,
	TRY_HEADER,
	takeQuotaBody,
} from "./quota-body-probe.ts";
import { DEFAULT_ROTATION_SETTINGS } from "./rotation-settings.ts";
import { isAccountAvailable } from "./selection.ts";
import type { Account } from "./storage.ts";
import { formatResetAt, parseCodexRateLimitHeaders, parseCodexRateLimitsEvent } from "./usage.ts";

export const MAX_ROTATION_RETRIES = DEFAULT_ROTATION_SETTINGS.retryCount;
export const ACCOUNT_HEADER = "X-Multicodex-Account";

/**
 * The identifier as a header can carry it: as typed when it is printable ASCII, else
 * percent-encoded UTF-8 (`encodeURIComponent`), since fetch and WebSocket reject anything
 * else in a header and the request would fail (identifiers are any text the user typed).
 */
export function accountHeaderValue(identifier: string): string {
	return /^[\x20-\x7e]*$/.test(identifier) ? identifier : encodeURIComponent(identifier);
}

/** Thrown from `onResponse` on a 429 so pi-ai does not retry it with back-off first. */
const ROTATE_MESSAGE = "usage limit answer (429); Multicodex switches account";

type ApiProviderRef = {
	streamSimple: (
		model: Model<Api>,
		context: Context,
		options?: SimpleStreamOptions,
	) => AssistantMessageEventStream;
};

/** Options pi 1.x adds to the Codex provider; pi 0.73 ignores them. */
type CodexStreamOptions = SimpleStreamOptions & {
	onProviderStreamEvent?: (event: unknown, model: Model<Api>) => void | Promise<void>;
	fetch?: typeof fetch;
};

/** What one try learned about a quota answer, from whichever channel saw it first. */
interface TryState {
	quota?: QuotaSignal;
}

export interface StreamWrapperOptions {
	maxRetries?: number;
}

/**
 * The token failures of this request that the accounts' state does not show: a temporary
 * refresh failure (timeout, network, server error) flags nothing, and pi's expired login leaves
 * the list. Each message names the account and what to do; a flagged account is named with its
 * repair command among those needing a login instead.
 */
function unflaggedTokenFailures(
	accountManager: AccountManager,
	tokenFailures: ReadonlyMap<string, string>,
): string[] {
	const messages: string[] = [];
	for (const [email, message] of tokenFailures) {
		if (accountManager.getAccount(email)?.needsReauth) continue;
		const named = message.includes(email) ? message : `${email}: ${message}`;
		messages.push(named.replace(/\.$/, ""));
	}
	return messages;
}

/** `every account is`, `1 of 3 accounts is`, `2 of 3 accounts are`. */
function describeExhaustedCount(exhausted: number, total: number): string {
	if (exhausted === total) return "every account is";
	return `${exhausted} of ${total} accounts ${exhausted === 1 ? "is" : "are"}`;
}

/**
 * An expected end of a request: no account is left to try, or its tries are used up. Its
 * message stands as it is; only unexpected failures start with `Multicodex failed:` (A5).
 */
class NoAccountLeftError extends Error {}

function describeNoAccount(
	accountManager: AccountManager,
	now: number,
	tokenFailures: ReadonlyMap<string, string>,
): string {
	const accounts = accountManager.getAccounts();
	const failed = unflaggedTokenFailures(accountManager, tokenFailures);
	if (accounts.length === 0 && failed.length === 0) {
		return (
			"No available Multicodex accounts: none is set up. Add one with /multicodex use <identifier> " +
			"(it opens the OpenAI login), or log in to pi with /login openai-codex."
		);
	}
	const needsReauth = accounts.filter((a) => a.needsReauth);
	// An account that needs a login is named there only: the login also clears this flag.
	const withoutCodex = accounts.filter((a) => !a.needsReauth && a.codexNotIncluded);
	const cooling = accountManager.getEarliestCooldownEnd();
	const exhaustedCount = accounts.filter(
		(a) => !a.needsReauth && !a.codexNotIncluded && (a.quotaExhaustedUntil ?? 0) > now,
	).length;
	const parts: string[] = [];
	if (exhaustedCount > 0 && cooling) {
		const at = new Date(cooling.until).toISOString().replace(/\.\d+Z$/, "Z");
		parts.push(
			`${describeExhaustedCount(exhaustedCount, accounts.length)} out of quota; ` +
				`the first back is ${cooling.email}, ${formatResetAt(cooling.until, now)} (${at})`,
		);
	}
	if (needsReauth.length > 0) {
		const hints = needsReauth.map((a) => `${a.email} (${accountManager.repairCommandFor(a)})`);
		const verb = needsReauth.length === 1 ? "needs" : "need";
		parts.push(`${needsReauth.length} ${verb} re-authentication: ${hints.join(", ")}`);
	}
	if (withoutCodex.length > 0) {
		const emails = withoutCodex.map((a) => a.email).join(", ");
		parts.push(`${withoutCodex.length} cannot use Codex (plan without Codex): ${emails}`);
	}
	// Nothing but token failures (a network blip, say): their own messages say what to do, and
	// "add another account" would send the user the wrong way.
	if (parts.length === 0 && failed.length > 0) {
		return `No available Multicodex accounts for this request: ${failed.join("; ")}.`;
	}
	if (parts.length === 0) parts.push("every account failed for this request");
	return `No available Multicodex accounts: ${[...parts, ...failed].join("; ")}. Add another account with /multicodex use <identifier>.`;
}

const QUOTA_KIND_TEXT: Record<QuotaKind, string> = {
	usage_limit_reached: "its usage limit",
	usage_not_included: "a plan without Codex",
	rate_limited: "a rate limit",
};

/**
 * The request's tries ran out. With no account left to use that is the honest "no account"
 * message; otherwise the next request can still succeed on another account, so say that.
 */
function describeTriesUsedUp(
	accountManager: AccountManager,
	tries: number,
	lastQuota: { email: string; kind: QuotaKind } | undefined,
	tokenFailures: ReadonlyMap<string, string>,
): string {
	const now = Date.now();
	const usable = accountManager.getAccounts().some((a) => isAccountAvailable(a, now));
	if (!usable || !lastQuota) return describeNoAccount(accountManager, now, tokenFailures);
	return (
		`${lastQuota.email} hit ${QUOTA_KIND_TEXT[lastQuota.kind]} and this request's ${tries} ` +
		`${tries === 1 ? "try is" : "tries are"} used up; the next request uses another account ` +
		"(more tries per request: /multicodex rotation)."
	);
}

function headersRecord(headers: unknown): Record<string, string> {
	const out: Record<string, string> = {};
	if (headers instanceof Headers) {
		headers.forEach((value, key) => {
			out[key] = value;
		});
	} else if (headers && typeof headers === "object") {
		for (const [key, value] of Object.entries(headers)) {
			if (typeof value === "string") out[key] = value;
		}
	}
	return out;
}

/** The provider name an event's message carries. */
function carriedProvider(event: AssistantMessageEvent): string | undefined {
	if (event.type === "done") return event.message.provider;
	if (event.type === "error") return event.error.provider;
	return event.partial.provider;
}

export function createStreamWrapper(
	accountManager: AccountManager,
	baseProvider: ApiProviderRef,
	wrapperOptions: StreamWrapperOptions = {},
) {
	/** An error passed on from pi-ai may quote a server answer: never let a token through. */
	function redactErrorEvent(event: AssistantMessageEvent): AssistantMessageEvent {
		if (event.type !== "error" || !event.error.errorMessage) return event;
		const errorMessage = accountManager.redact(event.error.errorMessage);
		if (errorMessage === event.error.errorMessage) return event;
		return { ...event, error: { ...event.error, errorMessage } };
	}

	/** The account each pi session last used, to drop pi's cached socket when it changes. */
	const accountBySession = new Map<string, string>();

	function releaseSocketOnSwitch(sessionId: string | undefined, email: string): void {
		if (!sessionId) return;
		const previous = accountBySession.get(sessionId);
		if (previous !== undefined && previous !== email) closeCodexSessionSockets(sessionId);
		accountBySession.set(sessionId, email);
	}

	return (
		model: Model<Api>,
		context: Context,
		options?: SimpleStreamOptions,
	): AssistantMessageEventStream => {
		const relay = new EventRelay(() =>
			createErrorAssistantMessage(model, "Multicodex failed: the answer ended without a result"),
		);
		const provider = model.provider;
		const passOn = (event: AssistantMessageEvent) =>
			rewriteProviderOnEvent(redactErrorEvent(event), provider);
		const push = (event: AssistantMessageEvent) => relay.push(passOn(event));

		/** The manual pin while it can be used (`isManual`), else the rotation's choice. */
		const pickAccount = async (
			excluded: Set<string>,
		): Promise<{ account?: Account; isManual: boolean }> => {
			const manual = accountManager.getAvailableManualAccount({ excludeEmails: excluded });
			if (manual) {
				accountManager.setActiveAccount(manual.email);
				return { account: manual, isManual: true };
			}
			if (accountManager.hasManualAccount()) accountManager.clearManualAccount();
			const account = await accountManager.activateBestAccount({
				excludeEmails: excluded,
				signal: options?.signal,
				sticky: true,
			});
			return { account, isManual: false };
		};

		/**
		 * One try on one account. `rotate` when the account answered with a quota answer before any
		 * output: the caller cools it down and, with tries left, goes on with the next account.
		 */
		const tryAccount = async (account: Account, token: string) => {
			const state: TryState = {};
			const tryId = randomUUID();
			ensureGlobalQuotaBodyProbe();
			const { controller, dispose } = createLinkedAbortController(options?.signal);
			const callerOptions = options as CodexStreamOptions | undefined;
			const innerOptions: CodexStreamOptions = {
				...options,
				apiKey: token,
				signal: controller.signal,
				// Without a caller's fetch, pi-ai uses the global one, which the probe already wraps.
				fetch: callerOptions?.fetch ? probeQuotaBodies(callerOptions.fetch) : undefined,
				onResponse: async (response, responseModel) => {
					const headers = headersRecord(response.headers);
					const now = Date.now();
					const usage = parseCodexRateLimitHeaders(headers, now);
					if (usage) accountManager.recordUsage(account.email, usage);
					await options?.onResponse?.(response, responseModel);
					// Even on the last try: pi-ai's back-off on an account out of quota only delays the
					// answer, and the account's cooldown must be recorded either way.
					if (response.status === 429) {
						state.quota = classifyQuotaResponse(429, headers, takeQuotaBody(tryId), now);
						throw new Error(ROTATE_MESSAGE);
					}
				},
				// Called (and awaited) for every event of the answer: synchronous, so a text delta
				// costs two type checks and no extra promise.
				onProviderStreamEvent: (event, eventModel) => {
					const now = Date.now();
					const usage = parseCodexRateLimitsEvent(event, now);
					if (usage) accountManager.recordUsage(account.email, usage);
					state.quota ??= classifyQuotaEvent(event, now);
					return callerOptions?.onProviderStreamEvent?.(event, eventModel);
				},
			};
			const inner = baseProvider.streamSimple(
				{
					...model,
					provider: CODEX_PROVIDER,
					api: CODEX_API as Api,
					headers: {
						...(model.headers ?? {}),
						[ACCOUNT_HEADER]: accountHeaderValue(account.email),
						[TRY_HEADER]: tryId,
					},
				},
				context,
				innerOptions,
			);
			let heldStart: AssistantMessageEvent | undefined;
			const events = inner[Symbol.asyncIterator]();
			let handedOver = false;
			try {
				for (;;) {
					const next = await events.next();
					if (next.done) return { rotate: false as const };
					const event = next.value;
					if (event.type === "start") {
						heldStart = event;
						continue;
					}
					if (event.type === "error") {
						const message = event.error.errorMessage ?? "";
						const aborted = event.reason === "aborted" && !state.quota;
						if (!aborted) {
							const quota =
								state.quota ??
								(isQuotaErrorMessage(message) ? classifyQuotaErrorMessage(message) : undefined);
							if (quota) return { rotate: true as const, quota };
						}
						push(event);
						return { rotate: false as const };
					}
					// The answer has started: no more switching. The rest goes straight to pi.
					if (heldStart) push(heldStart);
					push(event);
					if (event.type === "done") return { rotate: false as const };
					handedOver = true;
					// pi-ai's events already carry our provider name; only a renamed provider needs a
					// per-event rewrite. Errors in the answer are scrubbed again at message_end.
					const needsRewrite = carriedProvider(event) !== provider;
					relay.handOver(events, inner.result(), needsRewrite ? passOn : undefined, () => {
						dispose();
						forgetQuotaBody(tryId);
					});
					return { rotate: false as const };
				}
			} finally {
				if (!handedOver) {
					controller.abort();
					dispose();
					forgetQuotaBody(tryId);
				}
			}
		};

		const run = async () => {
			await accountManager.waitUntilReady();
			const maxRetries =
				wrapperOptions.maxRetries ?? accountManager.getRotationSettings().retryCount;
			const excluded = new Set<string>();
			/** Why each account excluded for its token failed (redacted), for the final message. */
			const tokenFailures = new Map<string, string>();
			let lastQuota: { email: string; kind: QuotaKind } | undefined;
			const pushAborted = () => {
				const aborted = createAssistantMessage(model, {
					stopReason: "aborted",
					errorMessage: "Request was aborted",
				});
				push({ type: "error", reason: "aborted", error: aborted });
			};
			for (let attempt = 0; attempt <= maxRetries; attempt++) {
				if (options?.signal?.aborted) return pushAborted();
				const { account, isManual: usingManual } = await pickAccount(excluded);
				if (!account) {
					throw new NoAccountLeftError(
						describeNoAccount(accountManager, Date.now(), tokenFailures),
					);
				}

				let token: string;
				try {
					token = await accountManager.ensureValidToken(account, options?.signal);
				} catch (error) {
					// The user's abort (e.g. during a slow token refresh) is not the account's fault.
					if (options?.signal?.aborted) return pushAborted();
					accountManager.notifyRotationSkipForAuthFailure(account, error);
					if (usingManual) accountManager.clearManualAccount();
					excluded.add(account.email);
					tokenFailures.set(account.email, accountManager.redact(normalizeUnknownError(error)));
					if (attempt < maxRetries) continue;
					throw error;
				}

				releaseSocketOnSwitch(options?.sessionId, account.email);
				const result = await tryAccount(account, token);
				if (!result.rotate) return;
				const notice = accountManager.applyQuotaSignal(account, result.quota);
				if (notice) accountManager.warn(notice);
				if (usingManual) accountManager.clearManualAccount();
				excluded.add(account.email);
				lastQuota = { email: account.email, kind: result.quota.kind };
			}
			throw new NoAccountLeftError(
				describeTriesUsedUp(accountManager, maxRetries + 1, lastQuota, tokenFailures),
			);
		};

		run()
			.catch((error: unknown) => {
				const message = accountManager.redact(normalizeUnknownError(error));
				const text =
					error instanceof NoAccountLeftError ? message : `Multicodex failed: ${message}`;
				push({
					type: "error",
					reason: "error",
					error: createErrorAssistantMessage(model, text),
				});
			})
			.finally(() => relay.end());
		return relay as unknown as AssistantMessageEventStream;
	};
}
