// Benchmark 4: streaming 10,000 text deltas through our wrapper against consuming the inner
// provider's stream directly, in process (an AccountManager on a temp agent dir with one
// account, usage known). Throughput ratio = direct time ÷ wrapper time.
//
// The target case is pi-ai's own Codex provider, answered in memory: the simulated backend's
// SSE answer with 10,000 deltas, in network reads of 16 events, one per macrotask, through the
// global `fetch`. It runs in several fresh Node processes (`--expose-gc`, a collection before
// each run), each alternating the two variants round by round; its value is the median over
// the processes of each process's median paired ratio (the two runs of one round), because this
// machine's CPU switches speed every few seconds and one process's JIT can favour either side.
//
// Informational: pi-ai against itself, measured the same way (the noise floor of the value);
// an imitation of pi-ai (JSON.parse, an async hop, push) with a minimal
// `for await` relay as the floor of a relaying design; an inner that pushes everything at once
// (the wrapper's own cost per event in isolation); and a one-delta answer (cost per request).
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
	type Api,
	type AssistantMessage,
	type AssistantMessageEventStream,
	type Context,
	createAssistantMessageEventStream,
	type Model,
	type SimpleStreamOptions,
} from "@mariozechner/pi-ai";
import { AccountManager } from "../account-manager.ts";
import { getBuiltinCodexModels, getCodexApiProvider } from "../pi-adapter.ts";
import { createAssistantMessage } from "../provider-utils.ts";
import { createStreamWrapper } from "../stream-wrapper.ts";
import { writeAccountsFile } from "../test/support/accounts-file.ts";
import { cleanupTempDirs, makeAgentDir } from "../test/support/pi-runner.ts";
import { answerEvents } from "../test/support/sim-backend.ts";
import { makeAccessToken } from "../test/support/sim-tokens.ts";
import {
	type BenchRow,
	fmtMs,
	fmtRatio,
	isMainModule,
	log,
	median,
	passOrMiss,
	printRows,
	repsFromEnv,
} from "./support.ts";

const EVENTS = 10_000;
const CHUNK_EVENTS = 16;
const RATIO_TARGET = 0.98;
const EMAIL = "stream@bench.test";
const ACCOUNT_ID = "acct-bench";
/** A simulator token: pi-ai's Codex provider reads the account id from it. */
const ACCESS_TOKEN = makeAccessToken({ email: EMAIL, accountId: ACCOUNT_ID, expiresInSec: 3600 });

type StreamFn = (
	model: Model<Api>,
	context: Context,
	options?: SimpleStreamOptions,
) => AssistantMessageEventStream;

function emptyMessage(model: Model<Api>): AssistantMessage {
	return createAssistantMessage(model, { content: [{ type: "text", text: "" }] });
}

const SSE_LINES = Array.from({ length: EVENTS }, (_, i) =>
	JSON.stringify({
		type: "response.output_text.delta",
		item_id: "msg_bench",
		output_index: 0,
		content_index: 0,
		delta: `w${i} `,
		sequence_number: i,
	}),
);

/** pi-ai-like inner provider: parse, async hop, mutate `partial`, push; 16 events per chunk. */
const realisticProvider: StreamFn = (model) => {
	const stream = createAssistantMessageEventStream();
	const output = emptyMessage(model);
	const block = output.content[0] as { type: "text"; text: string };
	const produce = async () => {
		stream.push({ type: "start", partial: output });
		stream.push({ type: "text_start", contentIndex: 0, partial: output });
		for (let i = 0; i < EVENTS; i++) {
			if (i % CHUNK_EVENTS === 0) await new Promise<void>((resolve) => setImmediate(resolve));
			const event = JSON.parse(SSE_LINES[i] as string) as { delta: string };
			await undefined;
			block.text += event.delta;
			stream.push({ type: "text_delta", contentIndex: 0, delta: event.delta, partial: output });
		}
		stream.push({ type: "text_end", contentIndex: 0, content: block.text, partial: output });
		stream.push({ type: "done", reason: "stop", message: output });
		stream.end();
	};
	void produce();
	return stream;
};

/**
 * The Codex backend's answer of EVENTS text deltas as SSE, in network reads of CHUNK_EVENTS
 * events each (what the simulated backend sends, built by the same code).
 */
function sseAnswerChunks(): Uint8Array[] {
	const text = Array.from({ length: EVENTS }, (_, i) => `w${i} `).join("");
	const events = answerEvents(text, "gpt-5.1-codex", 10, EVENTS);
	const encoder = new TextEncoder();
	const chunks: Uint8Array[] = [];
	for (let i = 0; i < events.length; i += CHUNK_EVENTS) {
		const lines = events.slice(i, i + CHUNK_EVENTS).map((e) => `data: ${JSON.stringify(e)}\n\n`);
		chunks.push(encoder.encode(lines.join("")));
	}
	return chunks;
}

const SSE_CHUNKS = sseAnswerChunks();

/** `fetch` answering every request with SSE_CHUNKS, one network read per macrotask. */
const inMemoryCodexFetch: typeof fetch = async () => {
	let next = 0;
	const body = new ReadableStream<Uint8Array>({
		async pull(controller) {
			await new Promise<void>((resolve) => setImmediate(resolve));
			const chunk = SSE_CHUNKS[next++];
			if (chunk) controller.enqueue(chunk);
			else controller.close();
		},
	});
	return new Response(body, { status: 200, headers: { "content-type": "text/event-stream" } });
};

/**
 * pi-ai's own Codex provider (SSE) answered in memory: the target case. pi-ai calls the global
 * `fetch`, so each run sets it first: the in-memory one for pi-ai directly, and for the wrapper
 * that one wrapped by our 429-body probe, as it is in pi once the extension has run.
 */
async function piAiCodexVariants(manager: AccountManager, model: Model<Api>): Promise<Variants> {
	const codex = getCodexApiProvider();
	if (!codex) throw new Error("pi-ai has no openai-codex-responses provider");
	const direct: StreamFn = (m, context, options) => {
		globalThis.fetch = inMemoryCodexFetch;
		return codex.streamSimple(m, context, { ...options, apiKey: ACCESS_TOKEN });
	};
	const wrapper = createStreamWrapper(manager, codex);
	// The first run installs the probe on the global fetch; later runs reuse that fetch.
	globalThis.fetch = inMemoryCodexFetch;
	await consume(wrapper(model, CONTEXT, {}), EVENTS);
	const probedFetch = globalThis.fetch;
	const wrapped: StreamFn = (m, context, options) => {
		globalThis.fetch = probedFetch;
		return wrapper(m, context, options);
	};
	// No minimal relay here: run next to the wrapper it slowed the wrapper's own runs (JIT
	// state shared through pi-ai's stream), by 3–6 % in every process.
	return { direct, wrapped };
}

/** Everything pushed at once: what is left to measure is the cost of passing events on. */
const burstProvider: StreamFn = (model) => burstOf(model, EVENTS);

/** A one-delta answer: what the wrapper costs per request, whatever the answer's length. */
const oneDeltaProvider: StreamFn = (model) => burstOf(model, 1);

function burstOf(model: Model<Api>, deltas: number): AssistantMessageEventStream {
	const stream = createAssistantMessageEventStream();
	const output = emptyMessage(model);
	stream.push({ type: "start", partial: output });
	stream.push({ type: "text_start", contentIndex: 0, partial: output });
	for (let i = 0; i < deltas; i++) {
		stream.push({ type: "text_delta", contentIndex: 0, delta: "w ", partial: output });
	}
	stream.push({ type: "text_end", contentIndex: 0, content: "", partial: output });
	stream.push({ type: "done", reason: "stop", message: output });
	stream.end();
	return stream;
}

async function consume(stream: AssistantMessageEventStream, expected: number): Promise<number> {
	let deltas = 0;
	for await (const event of stream) {
		if (event.type === "text_delta") deltas++;
		else if (event.type === "error") throw new Error(event.error.errorMessage);
	}
	if (deltas !== expected) throw new Error(`expected ${expected} deltas, got ${deltas}`);
	return deltas;
}

async function timeOne(
	fn: StreamFn,
	deltas: number,
	model: Model<Api>,
	context: Context,
): Promise<number> {
	// Child processes run with --expose-gc: no run pays for the garbage of the one before.
	(globalThis as { gc?: () => void }).gc?.();
	const started = performance.now();
	await consume(fn(model, context, {}), deltas);
	return performance.now() - started;
}

function makeAccountManager(): AccountManager {
	const agentDir = makeAgentDir();
	mkdirSync(agentDir, { recursive: true });
	process.env.PI_CODING_AGENT_DIR = agentDir;
	const account = {
		email: EMAIL,
		accessToken: ACCESS_TOKEN,
		refreshToken: "bench-refresh-token",
		expiresAt: Date.now() + 3_600_000,
		accountId: ACCOUNT_ID,
	};
	writeAccountsFile(agentDir, [account]);
	const usage = {
		primary: { usedPercent: 10, resetAt: Date.now() + 3_600_000 },
		secondary: { usedPercent: 20, resetAt: Date.now() + 3 * 86_400_000 },
	};
	const manager = new AccountManager({
		fetchUsage: async () => ({ ...usage, fetchedAt: Date.now() }),
	});
	manager.recordUsage(EMAIL, usage);
	return manager;
}

/** The least any wrapper of this shape does: iterate the inner stream, push to a new one. */
function minimalRelay(inner: StreamFn): StreamFn {
	return (model, context, options) => {
		const outer = createAssistantMessageEventStream();
		const source = inner(model, context, options);
		void (async () => {
			for await (const event of source) outer.push(event);
			outer.end();
		})();
		return outer;
	};
}

interface Comparison {
	direct: number;
	wrapped: number;
	/** Only when the minimal relay was measured too. */
	relay?: number;
	/** Median over the rounds of direct ÷ wrapper within a round (runs back to back). */
	paired: number;
}

/** The ways to stream one answer: inner directly, our wrapper, and maybe a minimal relay. */
interface Variants {
	direct: StreamFn;
	wrapped: StreamFn;
	relay?: StreamFn;
}

function variantsOf(inner: StreamFn, manager: AccountManager): Required<Variants> {
	return {
		direct: inner,
		relay: minimalRelay(inner),
		wrapped: createStreamWrapper(manager, { streamSimple: inner }),
	};
}

const CONTEXT: Context = { messages: [{ role: "user", content: "hi", timestamp: Date.now() }] };

/**
 * Medians of each variant, alternated round by round (ABBA) after a warm-up. This machine's
 * CPU switches between a fast and a slow speed every few seconds (the same loop takes 82 or
 * 145 ms), so `paired` compares runs of one round, which ran at the same speed.
 */
async function compare(
	{ direct, wrapped, relay }: Variants,
	deltas: number,
	rounds: number,
	model: Model<Api>,
): Promise<Comparison> {
	const variants = relay ? [direct, wrapped, relay] : [direct, wrapped];
	for (let i = 0; i < 5; i++) for (const fn of variants) await timeOne(fn, deltas, model, CONTEXT);
	const times: number[][] = variants.map(() => []);
	for (let round = 0; round < rounds; round++) {
		const order = variants.map((_, i) => i);
		if (round % 2 === 1) order.reverse();
		for (const i of order) {
			times[i]?.push(await timeOne(variants[i] as StreamFn, deltas, model, CONTEXT));
		}
	}
	const [directTimes, wrappedTimes, relayTimes] = times as [number[], number[], number[]?];
	return {
		direct: median(directTimes),
		wrapped: median(wrappedTimes),
		relay: relayTimes ? median(relayTimes) : undefined,
		paired: median(directTimes.map((d, i) => d / (wrappedTimes[i] as number))),
	};
}

function perEventNs(slower: number, faster: number): string {
	return `${(((slower - faster) / EVENTS) * 1e6).toFixed(0)} ns`;
}

/** Set in a child process: the number of rounds to measure the target case with. */
const CHILD_ROUNDS_ENV = "MULTICODEX_BENCH_STREAM_ROUNDS";
const PROCESSES = 7;

interface ProcessResult {
	/** pi-ai's Codex provider over memory: the target case. */
	piAi: Comparison;
	/** pi-ai directly against itself, measured the same way: the measurement's own noise. */
	piAiAgainstItself: Comparison;
	/** The imitation of pi-ai (parse, async hop, push), for comparison. */
	imitation: Comparison;
}

/** Both pi-ai cases in one process (a child of the benchmark). */
async function measureInThisProcess(rounds: number): Promise<ProcessResult> {
	const { model, manager } = setUp();
	const originalFetch = globalThis.fetch;
	try {
		const variants = await piAiCodexVariants(manager, model);
		const piAi = await compare(variants, EVENTS, rounds, model);
		const { direct } = variants;
		const again: StreamFn = (m, context, options) => direct(m, context, options);
		const piAiAgainstItself = await compare({ direct, wrapped: again }, EVENTS, rounds, model);
		const imitation = await compare(variantsOf(realisticProvider, manager), EVENTS, rounds, model);
		return { piAi, piAiAgainstItself, imitation };
	} finally {
		globalThis.fetch = originalFetch;
		manager.cancelBackgroundWork();
	}
}

/** Runs `measureInThisProcess` in `processes` fresh Node processes, one after the other. */
function measureInFreshProcesses(processes: number, rounds: number): ProcessResult[] {
	const results: ProcessResult[] = [];
	for (let i = 0; i < processes; i++) {
		const child = spawnSync(
			process.execPath,
			["--expose-gc", "--import", "tsx", fileURLToPath(import.meta.url)],
			{
				encoding: "utf8",
				env: { ...process.env, [CHILD_ROUNDS_ENV]: String(rounds) },
			},
		);
		const lastLine = child.stdout.trim().split("\n").at(-1) ?? "";
		if (child.status !== 0 || !lastLine.startsWith("{")) {
			throw new Error(`stream benchmark process ${i + 1} failed: ${child.stderr.slice(-1500)}`);
		}
		results.push(JSON.parse(lastLine) as ProcessResult);
	}
	return results;
}

function setUp(): { model: Model<Api>; manager: AccountManager } {
	const model = getBuiltinCodexModels()[0];
	if (!model) throw new Error("pi-ai has no openai-codex model to stream with");
	return { model, manager: makeAccountManager() };
}

/** Medians over the processes; `ratios` are the processes' paired direct ÷ wrapper ratios. */
function acrossProcesses(comparisons: Comparison[]): Comparison & { ratios: number[] } {
	const relays = comparisons.flatMap((c) => (c.relay === undefined ? [] : [c.relay]));
	const ratios = comparisons.map((c) => c.paired);
	return {
		direct: median(comparisons.map((c) => c.direct)),
		wrapped: median(comparisons.map((c) => c.wrapped)),
		relay: relays.length > 0 ? median(relays) : undefined,
		paired: median(ratios),
		ratios,
	};
}

function describe(c: Comparison, runs: string): string {
	const relay =
		c.relay === undefined
			? ""
			: `, minimal relay ${c.relay.toFixed(1)} ms (adds ${perEventNs(c.relay, c.direct)} per event)`;
	return `medians: direct ${c.direct.toFixed(1)} ms, wrapper ${c.wrapped.toFixed(1)} ms (adds ${perEventNs(c.wrapped, c.direct)} per event)${relay}; ${runs}`;
}

export async function benchStreamThroughput(
	options: { rounds?: number } = {},
): Promise<BenchRow[]> {
	const rounds = options.rounds ?? repsFromEnv(7) * 6;
	const processRounds = Math.max(6, Math.round(rounds / 3));
	const { model, manager } = setUp();
	const line = `in-process (Node ${process.version})`;
	try {
		log(
			`4 stream throughput: ${PROCESSES} processes × ${processRounds} alternated rounds × 2 inner ` +
				`providers, then ${rounds} rounds × 2 more`,
		);
		const perProcess = measureInFreshProcesses(PROCESSES, processRounds);
		const piAi = acrossProcesses(perProcess.map((p) => p.piAi));
		const noise = acrossProcesses(perProcess.map((p) => p.piAiAgainstItself));
		const imitation = acrossProcesses(perProcess.map((p) => p.imitation));
		const burst = await compare(variantsOf(burstProvider, manager), EVENTS, rounds, model);
		const single = await compare(variantsOf(oneDeltaProvider, manager), 1, rounds * 4, model);
		const fixedMs = single.wrapped - single.direct;
		const inProcesses = `${processRounds} rounds in each of ${PROCESSES} processes, medians over the processes`;
		const perProcessRatios = (ratios: number[]) =>
			`paired ratio per process ${ratios.map((r) => r.toFixed(3)).join(", ")}`;
		return [
			{
				bench: "4 stream-throughput",
				line,
				metric: `throughput through the wrapper ÷ pi-ai's Codex provider directly, ${EVENTS.toLocaleString("en")} text deltas of an SSE answer in memory (median of ${PROCESSES} processes' paired ratios)`,
				value: fmtRatio(piAi.paired, RATIO_TARGET),
				target: `≥ ${RATIO_TARGET}×`,
				status: passOrMiss(piAi.paired >= RATIO_TARGET),
				detail: `${perProcessRatios(piAi.ratios)}; ${describe(piAi, inProcesses)}`,
			},
			{
				bench: "4 stream-throughput",
				line,
				metric:
					"same, pi-ai directly ÷ pi-ai directly (no wrapper on either side): what this measurement reads when nothing differs",
				value: fmtRatio(noise.paired),
				target: "—",
				status: "info",
				detail: perProcessRatios(noise.ratios),
			},
			{
				bench: "4 stream-throughput",
				line,
				metric:
					"same with an imitation of pi-ai as the inner (JSON.parse, async hop, push: less work per event, so the wrapper's share shows more)",
				value: fmtRatio(imitation.paired),
				target: "—",
				status: "info",
				detail: `${perProcessRatios(imitation.ratios)}; ${describe(imitation, inProcesses)}`,
			},
			{
				bench: "4 stream-throughput",
				line,
				metric: "wrapper ÷ direct, inner pushes all events at once (cost of passing events on)",
				value: fmtRatio(burst.paired),
				target: "—",
				status: "info",
				detail: describe(burst, `${rounds} rounds`),
			},
			{
				bench: "4 stream-throughput",
				line,
				metric: "wrapper's cost per request (one-delta answer: wrapper − direct)",
				value: fmtMs(fixedMs),
				target: "—",
				status: "info",
				detail: `medians: direct ${fmtMs(single.direct)}, wrapper ${fmtMs(single.wrapped)} (${rounds * 4} rounds each); without it the wrapper adds ${perEventNs(piAi.wrapped - fixedMs, piAi.direct)} per event (pi-ai), ${perEventNs(burst.wrapped - fixedMs, burst.direct)} (all at once)`,
			},
		];
	} finally {
		// PI_CODING_AGENT_DIR stays on the temp dir: a late usage-cache save must never reach
		// the user's real agent dir (pi children get their own env from pi-runner).
		manager.cancelBackgroundWork();
	}
}

if (isMainModule(import.meta.url)) {
	const childRounds = Number(process.env[CHILD_ROUNDS_ENV]);
	try {
		if (childRounds > 0) console.log(JSON.stringify(await measureInThisProcess(childRounds)));
		else printRows(await benchStreamThroughput());
	} finally {
		cleanupTempDirs();
	}
}
