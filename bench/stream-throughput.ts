// Benchmark 4: streaming 10,000 text deltas through our wrapper against consuming the inner
// provider's stream directly, in process (an AccountManager on a temp agent dir with one
// account, usage known, no network). Throughput ratio = direct time ÷ wrapper time, medians of
// many alternated rounds.
//
// The inner provider behaves like pi-ai's Codex provider: each event is one parsed SSE data
// line (JSON.parse), handed over through an async hop, appended to the shared `partial`
// message and pushed as a `text_delta`; network chunks of 16 events arrive in separate
// macrotasks. A second, informational variant pushes all events at once with no parsing, so
// the wrapper's own cost per event is visible in isolation.
import { mkdirSync } from "node:fs";
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
import { getBuiltinCodexModels } from "../pi-adapter.ts";
import { createAssistantMessage } from "../provider-utils.ts";
import { createStreamWrapper } from "../stream-wrapper.ts";
import { writeAccountsFile } from "../test/support/accounts-file.ts";
import { cleanupTempDirs, makeAgentDir } from "../test/support/pi-runner.ts";
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
		accessToken: "bench-access-token",
		refreshToken: "bench-refresh-token",
		expiresAt: Date.now() + 3_600_000,
		accountId: "acct-bench",
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
	relay: number;
	wrapped: number;
}

/** Medians of direct, minimal relay and wrapper, alternated round by round after a warm-up. */
async function compare(
	inner: StreamFn,
	deltas: number,
	rounds: number,
	model: Model<Api>,
	manager: AccountManager,
): Promise<Comparison> {
	const variants: StreamFn[] = [
		inner,
		minimalRelay(inner),
		createStreamWrapper(manager, { streamSimple: inner }),
	];
	const context: Context = { messages: [{ role: "user", content: "hi", timestamp: Date.now() }] };
	for (let i = 0; i < 5; i++) for (const fn of variants) await timeOne(fn, deltas, model, context);
	const times: number[][] = variants.map(() => []);
	for (let round = 0; round < rounds; round++) {
		const order = variants.map((_, i) => i);
		if (round % 2 === 1) order.reverse();
		for (const i of order) {
			times[i]?.push(await timeOne(variants[i] as StreamFn, deltas, model, context));
		}
	}
	const [direct, relay, wrapped] = times.map(median) as [number, number, number];
	return { direct, relay, wrapped };
}

function perEventNs(slower: number, faster: number): string {
	return `${(((slower - faster) / EVENTS) * 1e6).toFixed(0)} ns`;
}

export async function benchStreamThroughput(
	options: { rounds?: number } = {},
): Promise<BenchRow[]> {
	const rounds = options.rounds ?? repsFromEnv(7) * 6;
	const model = getBuiltinCodexModels()[0];
	if (!model) throw new Error("pi-ai has no openai-codex model to stream with");
	const manager = makeAccountManager();
	const line = `in-process (Node ${process.version})`;
	try {
		log(`4 stream throughput: ${rounds} alternated rounds × 3 variants × 3 inner providers`);
		const realistic = await compare(realisticProvider, EVENTS, rounds, model, manager);
		const burst = await compare(burstProvider, EVENTS, rounds, model, manager);
		const single = await compare(oneDeltaProvider, 1, rounds * 4, model, manager);
		const fixedMs = single.wrapped - single.direct;
		const describe = (c: Comparison) =>
			`medians: direct ${c.direct.toFixed(1)} ms, minimal relay ${c.relay.toFixed(1)} ms, wrapper ${c.wrapped.toFixed(1)} ms (${rounds} rounds each); ` +
			`per event the relay adds ${perEventNs(c.relay, c.direct)}, the wrapper ${perEventNs(c.wrapped, c.direct)}`;
		const value = realistic.direct / realistic.wrapped;
		return [
			{
				bench: "4 stream-throughput",
				line,
				metric: `throughput through the wrapper ÷ inner directly, ${EVENTS.toLocaleString("en")} text deltas (pi-ai-like inner)`,
				value: fmtRatio(value, RATIO_TARGET),
				target: `≥ ${RATIO_TARGET}×`,
				status: passOrMiss(value >= RATIO_TARGET),
				detail: describe(realistic),
			},
			{
				bench: "4 stream-throughput",
				line,
				metric: "same, minimal `for await` relay instead of the wrapper (floor of this design)",
				value: fmtRatio(realistic.direct / realistic.relay),
				target: "—",
				status: "info",
			},
			{
				bench: "4 stream-throughput",
				line,
				metric: "wrapper ÷ direct, inner pushes all events at once (cost of passing events on)",
				value: fmtRatio(burst.direct / burst.wrapped),
				target: "—",
				status: "info",
				detail: describe(burst),
			},
			{
				bench: "4 stream-throughput",
				line,
				metric: "wrapper's cost per request (one-delta answer: wrapper − direct)",
				value: fmtMs(fixedMs),
				target: "—",
				status: "info",
				detail: `medians: direct ${fmtMs(single.direct)}, wrapper ${fmtMs(single.wrapped)} (${rounds * 4} rounds each); without it the wrapper adds ${perEventNs(realistic.wrapped - fixedMs, realistic.direct)} per event (pi-ai-like inner), ${perEventNs(burst.wrapped - fixedMs, burst.direct)} (all at once)`,
			},
		];
	} finally {
		// PI_CODING_AGENT_DIR stays on the temp dir: a late usage-cache save must never reach
		// the user's real agent dir (pi children get their own env from pi-runner).
		manager.cancelBackgroundWork();
	}
}

if (isMainModule(import.meta.url)) {
	try {
		printRows(await benchStreamThroughput());
	} finally {
		cleanupTempDirs();
	}
}
