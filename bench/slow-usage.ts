// Benchmark 2 (SPEC B5): a whole `pi -p` run against a usage endpoint that answers in 3 s,
// against the same run with a fast usage endpoint. Two managed accounts and no cached usage,
// so the first choice has nothing to go on but what is persisted.
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

const EMAILS = ["quick@sim.test", "other@sim.test"];
const USAGE_DELAY_MS = 3000;
const RATIO_TARGET = 1.15;

async function promptRun(
	line: PiLine,
	sim: SimBackend,
): Promise<{ durationMs: number; cpuMs: number }> {
	const agentDir = makeAgentDir();
	writeSettingsJson(agentDir);
	writeManagedAccounts(agentDir, sim, EMAILS);
	const run = await runMeasured(line, {
		agentDir,
		simUrl: sim.url,
		extensionPath: EXTENSION,
		args: ["--no-session", ...modelArgs(), "-p", "hi"],
	});
	expectAnswer(run, /Answered by (quick|other)@sim\.test/, `${line.name} usage run`);
	return { durationMs: run.durationMs, cpuMs: run.cpuMs };
}

export async function benchSlowUsage(options: { reps?: number } = {}): Promise<BenchRow[]> {
	const reps = options.reps ?? repsFromEnv(7);
	const rows: BenchRow[] = [];
	for (const line of PI_LINES) {
		const accounts = EMAILS.map((email) => ({ email }));
		const slow = await startSimBackend({ accounts, usageDelayMs: USAGE_DELAY_MS });
		const fast = await startSimBackend({ accounts });
		try {
			log(`2 slow usage on ${line.name}: ${reps} × 2 runs`);
			const [slowRuns = [], fastRuns = []] = await alternate(reps, [
				() => promptRun(line, slow),
				() => promptRun(line, fast),
			]);
			const slowMs = slowRuns.map((r) => r.durationMs);
			const fastMs = fastRuns.map((r) => r.durationMs);
			const slowMedian = median(slowMs);
			const fastMedian = median(fastMs);
			const slowCpu = median(slowRuns.map((r) => r.cpuMs));
			const fastCpu = median(fastRuns.map((r) => r.cpuMs));
			const value = slowMedian / fastMedian;
			rows.push({
				bench: "2 slow-usage",
				line: line.name,
				metric: `whole run, usage endpoint answering in ${USAGE_DELAY_MS / 1000} s ÷ fast usage (medians)`,
				value: fmtRatio(value, RATIO_TARGET),
				target: `≤ ${RATIO_TARGET}×`,
				status: passOrMiss(value <= RATIO_TARGET),
				detail: `slow ${Math.round(slowMedian)} ms ${samples(slowMs)}; fast ${Math.round(fastMedian)} ms ${samples(fastMs)}; median of paired ratios ${fmtRatio(pairedRatio(slowMs, fastMs))}; CPU medians ${Math.round(slowCpu)} vs ${Math.round(fastCpu)} ms (${fmtRatio(slowCpu / fastCpu)})`,
			});
		} finally {
			await slow.close();
			await fast.close();
		}
	}
	return rows;
}

if (isMainModule(import.meta.url)) {
	try {
		printRows(await benchSlowUsage());
	} finally {
		cleanupTempDirs();
	}
}
