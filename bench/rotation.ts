// Benchmarks 1 and 3 (SPEC B3): a whole `pi -p` run whose first choice is an exhausted account,
// against the same run with one healthy account, and how many requests the exhausted account
// receives per rotation (from the simulator's records), on both pi lines and, on pi 1.3, on
// both transports (WebSocket by default, SSE with `"transport": "sse"`).
import {
	cleanupTempDirs,
	makeAgentDir,
	modelArgs,
	PI_LINES,
	type PiLine,
	writeSettingsJson,
} from "../test/support/pi-runner.ts";
import { type SimBackend, startSimBackend } from "../test/support/sim-backend.ts";
import {
	alternate,
	type BenchRow,
	EXTENSION,
	expectAnswer,
	fmtRatio,
	isMainModule,
	log,
	median,
	pairedRatio,
	passOrMiss,
	printRows,
	repsFromEnv,
	runMeasured,
	samples,
	writeManagedAccounts,
} from "./support.ts";

const EXHAUSTED = "empty@sim.test";
const HEALTHY = "full@sim.test";
const RATIO_TARGET = 1.15;

export interface RotationOptions {
	reps?: number;
	/** Extra SSE rotations on pi 1.3 for benchmark 3. */
	sseRuns?: number;
}

/** One rotation run: the pin makes the exhausted account the first choice. */
async function rotationRun(
	line: PiLine,
	sim: SimBackend,
	settings: Record<string, unknown> = {},
): Promise<{
	durationMs: number;
	cpuMs: number;
	exhaustedRequests: number;
	transports: string[];
}> {
	const agentDir = makeAgentDir();
	writeSettingsJson(agentDir, settings);
	writeManagedAccounts(agentDir, sim, [EXHAUSTED, HEALTHY]);
	const before = sim.responsesFor(EXHAUSTED).length;
	const run = await runMeasured(line, {
		agentDir,
		simUrl: sim.url,
		extensionPath: EXTENSION,
		args: ["--no-session", ...modelArgs(), "-p", `/multicodex use ${EXHAUSTED}`, "hi"],
	});
	expectAnswer(run, new RegExp(`Answered by ${HEALTHY}`), `${line.name} rotation run`);
	const tried = sim.responsesFor(EXHAUSTED).slice(before);
	return {
		durationMs: run.durationMs,
		cpuMs: run.cpuMs,
		exhaustedRequests: tried.length,
		transports: tried.map((r) => r.transport),
	};
}

/** The baseline: the same command and prompt with one healthy account. */
async function plainRun(
	line: PiLine,
	sim: SimBackend,
): Promise<{ durationMs: number; cpuMs: number }> {
	const agentDir = makeAgentDir();
	writeSettingsJson(agentDir);
	writeManagedAccounts(agentDir, sim, [HEALTHY]);
	const run = await runMeasured(line, {
		agentDir,
		simUrl: sim.url,
		extensionPath: EXTENSION,
		args: ["--no-session", ...modelArgs(), "-p", `/multicodex use ${HEALTHY}`, "hi"],
	});
	expectAnswer(run, new RegExp(`Answered by ${HEALTHY}`), `${line.name} plain run`);
	return { durationMs: run.durationMs, cpuMs: run.cpuMs };
}

function cpuNote(a: { cpuMs: number }[], b: { cpuMs: number }[]): string {
	const cpuA = median(a.map((r) => r.cpuMs));
	const cpuB = median(b.map((r) => r.cpuMs));
	return `${Math.round(cpuA)} vs ${Math.round(cpuB)} ms (${fmtRatio(cpuA / cpuB)})`;
}

function requestsRow(
	line: string,
	transport: string,
	runs: { exhaustedRequests: number; transports: string[] }[],
	expectedTransport: string,
): BenchRow {
	const counts = runs.map((r) => r.exhaustedRequests);
	const seen = [...new Set(runs.flatMap((r) => r.transports))];
	const pass = counts.every((c) => c === 1) && seen.every((t) => t === expectedTransport);
	return {
		bench: "3 requests-to-exhausted",
		line,
		metric: `requests to the exhausted account per rotation (${transport})`,
		value: `${Math.max(...counts)} (max of ${counts.length} runs)`,
		target: "1",
		status: passOrMiss(pass),
		detail: `per run: [${counts.join(", ")}]; transports seen: ${seen.join(", ") || "none"}`,
	};
}

export async function benchRotation(options: RotationOptions = {}): Promise<BenchRow[]> {
	const reps = options.reps ?? repsFromEnv(7);
	const sseRuns = options.sseRuns ?? 3;
	const rows: BenchRow[] = [];
	const requestRows: BenchRow[] = [];
	for (const line of PI_LINES) {
		const sim = await startSimBackend({
			accounts: [{ email: EXHAUSTED, exhausted: true }, { email: HEALTHY }],
		});
		try {
			log(`1/3 rotation on ${line.name}: ${reps} × 2 runs`);
			const [rotated, plain] = (await alternate(reps, [
				() => rotationRun(line, sim),
				() => plainRun(line, sim),
			])) as [Awaited<ReturnType<typeof rotationRun>>[], Awaited<ReturnType<typeof plainRun>>[]];
			const rotatedMs = median(rotated.map((r) => r.durationMs));
			const plainMs = median(plain.map((r) => r.durationMs));
			const value = rotatedMs / plainMs;
			rows.push({
				bench: "1 exhausted-first",
				line: line.name,
				metric: "whole run, first account exhausted ÷ plain run (medians)",
				value: fmtRatio(value, RATIO_TARGET),
				target: `≤ ${RATIO_TARGET}×`,
				status: passOrMiss(value <= RATIO_TARGET),
				detail: `rotated ${Math.round(rotatedMs)} ms ${samples(rotated.map((r) => r.durationMs))}; plain ${Math.round(plainMs)} ms ${samples(plain.map((r) => r.durationMs))}; median of paired ratios ${fmtRatio(
					pairedRatio(
						rotated.map((r) => r.durationMs),
						plain.map((r) => r.durationMs),
					),
				)}; CPU medians ${cpuNote(rotated, plain)}`,
			});
			const defaultTransport = line.name === "pi-1.3" ? "websocket" : "sse";
			requestRows.push(
				requestsRow(
					line.name,
					defaultTransport,
					rotated,
					defaultTransport === "sse" ? "sse" : "ws",
				),
			);
			if (line.name === "pi-1.3") {
				log(`3 SSE rotations on ${line.name}: ${sseRuns} runs`);
				const sse = [];
				for (let i = 0; i < sseRuns; i++)
					sse.push(await rotationRun(line, sim, { transport: "sse" }));
				requestRows.push(requestsRow(line.name, "sse", sse, "sse"));
			}
		} finally {
			await sim.close();
		}
	}
	return [...rows, ...requestRows];
}

if (isMainModule(import.meta.url)) {
	try {
		printRows(await benchRotation());
	} finally {
		cleanupTempDirs();
	}
}
