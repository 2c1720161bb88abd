// Reading the body of a Codex 429 answer before pi-ai does. Only the body tells an exhausted
// plan (`usage_limit_reached`) from a plan without Codex (`usage_not_included`), but pi-ai's
// `onResponse` gets status and headers only. pi-ai's SSE request goes through the global
// `fetch` (pi 0.73 always; pi 1.x unless the caller passes `options.fetch`, which we then wrap
// the same way), so we wrap it — narrowly: only requests that carry our try header are looked
// at, and only their 429 answers are read (from a clone).
export const TRY_HEADER = "X-Multicodex-Try";

const bodies = new Map<string, unknown>();
let globalProbeInstalled = false;

function tryIdOf(
	input: Parameters<typeof fetch>[0],
	init?: Parameters<typeof fetch>[1],
): string | null {
	const fromInit = init?.headers ? new Headers(init.headers).get(TRY_HEADER) : null;
	if (fromInit) return fromInit;
	return input instanceof Request ? input.headers.get(TRY_HEADER) : null;
}

/** Wraps `fetchImpl` so the JSON body of a 429 answer to one of our tries is kept. */
export function probeQuotaBodies(fetchImpl: typeof fetch): typeof fetch {
	return async (input, init) => {
		const response = await fetchImpl(input, init);
		if (response.status !== 429) return response;
		const tryId = tryIdOf(input, init);
		if (tryId)
			bodies.set(
				tryId,
				await response
					.clone()
					.json()
					.catch(() => undefined),
			);
		return response;
	};
}

/** Makes sure the global `fetch` keeps 429 bodies of our tries (for pi lines without `options.fetch`). */
export function ensureGlobalQuotaBodyProbe(): void {
	if (globalProbeInstalled) return;
	globalProbeInstalled = true;
	globalThis.fetch = probeQuotaBodies(globalThis.fetch);
}

/** The 429 body seen for a try, once; undefined when none was read. */
export function takeQuotaBody(tryId: string): unknown {
	const body = bodies.get(tryId);
	bodies.delete(tryId);
	return body;
}

export function forgetQuotaBody(tryId: string): void {
	bodies.delete(tryId);
}
