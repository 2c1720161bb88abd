// Benchmark 6: what the extension itself costs. The same one-prompt `pi -p` answered by plain
// pi with its own login in auth.json (no extension) and by pi with the extension (`-e
// index.ts`) and one managed account (no auth.json), alternated, on both pi lines: medians of
// wall time and of peak RSS (and CPU time, for reading the wall time on a busy machine).
import {
	cleanupTempDirs,
	makeAgentDir,
	modelArgs,
	PI_LINES,
	type PiLine,
	writeAuthJson,
	writeSettingsJson,
} from "../test/support/pi-runner.ts";
import { type SimBackend, startSimBackend } from "../test/support/sim-backend.ts";
import {
	alternate,
	type BenchRow,
	EXTENSION,
	expectAnswer,
	fmtMiB,
	fmtRatio,
	isMainModule,
	log,
	type MeasuredRun,
	median,
	pairedRatio,
	passOrMiss,
	printRows,
	repsFromEnv,
	runMeasured,
	samples,
	writeManagedAccounts,
} from "./support.ts";

const EMAIL = "solo@sim.test";
const WALL_TARGET = 1.05;
const RSS_TARGET_MIB = 15;

export type CostVariant = "plain" | "extension";

/** One run of either variant; `nodeArgs` lets a profiler ride along. */
export async function costRun(
	line: PiLine,
	sim: SimBackend,
	variant: CostVariant,
	nodeArgs: string[] = [],
): Promise<MeasuredRun> {
	const agentDir = makeAgentDir();
	writeSettingsJson(agentDir);
	if (variant === "plain") {
		const c = sim.issueTokens(EMAIL);
		writeAuthJson(agentDir, {
			access: c.access,
			refresh: c.refresh,
			expires: c.expires,
			accountId: c.accountId,
		});
	} else {
		writeManagedAccounts(agentDir, sim, [EMAIL]);
	}
	const run = await runMeasured(line, {
		agentDir,
		simUrl: sim.url,
		extensionPath: variant === "extension" ? EXTENSION : undefined,
		args: ["--no-session", ...modelArgs(), "-p", "hi"],
		nodeArgs,
	});
	expectAnswer(run, new RegExp(`Answered by ${EMAIL}`), `${line.name} ${variant} run`);
	return run;
}

export async function benchExtensionCost(options: { reps?: number } = {}): Promise<BenchRow[]> {
	const reps = options.reps ?? repsFromEnv(9);
	const rows: BenchRow[] = [];
	for (const line of PI_LINES) {
		const sim = await startSimBackend({ accounts: [{ email: EMAIL }] });
		try {
			log(`6 extension cost on ${line.name}: ${reps} × 2 runs`);
			const [plain, withExtension] = (await alternate(reps, [
				() => costRun(line, sim, "plain"),
				() => costRun(line, sim, "extension"),
			])) as [MeasuredRun[], MeasuredRun[]];
			const wall = (runs: MeasuredRun[]) => median(runs.map((r) => r.durationMs));
			const rss = (runs: MeasuredRun[]) => median(runs.map((r) => r.maxRssKiB));
			const cpu = (runs: MeasuredRun[]) => median(runs.map((r) => r.cpuMs));
			const wallRatio = wall(withExtension) / wall(plain);
			const rssDeltaKiB = rss(withExtension) - rss(plain);
			const cpuRatio = cpu(withExtension) / cpu(plain);
			rows.push(
				{
					bench: "6 extension-cost",
					line: line.name,
					metric: "wall time, pi + extension + 1 account ÷ plain pi with its login (medians)",
					value: fmtRatio(wallRatio, WALL_TARGET),
					target: `≤ ${WALL_TARGET}×`,
					status: passOrMiss(wallRatio <= WALL_TARGET),
					detail: `extension ${Math.round(wall(withExtension))} ms ${samples(withExtension.map((r) => r.durationMs))}; plain ${Math.round(wall(plain))} ms ${samples(plain.map((r) => r.durationMs))}; median of paired ratios ${fmtRatio(
						pairedRatio(
							withExtension.map((r) => r.durationMs),
							plain.map((r) => r.durationMs),
						),
					)}`,
				},
				{
					bench: "6 extension-cost",
					line: line.name,
					metric: "peak RSS, extension − plain (medians)",
					value: fmtMiB(rssDeltaKiB),
					target: `≤ +${RSS_TARGET_MIB} MiB`,
					status: passOrMiss(rssDeltaKiB / 1024 <= RSS_TARGET_MIB),
					detail: `extension ${(rss(withExtension) / 1024).toFixed(1)} MiB, plain ${(rss(plain) / 1024).toFixed(1)} MiB`,
				},
				{
					bench: "6 extension-cost",
					line: line.name,
					metric: "CPU time (user+sys), extension ÷ plain (medians)",
					value: fmtRatio(cpuRatio),
					target: "—",
					status: "info",
					detail: `extension ${Math.round(cpu(withExtension))} ms ${samples(withExtension.map((r) => r.cpuMs))}; plain ${Math.round(cpu(plain))} ms ${samples(plain.map((r) => r.cpuMs))}`,
				},
			);
		} finally {
			await sim.close();
		}
	}
	return rows;
}

if (isMainModule(import.meta.url)) {
	try {
		printRows(await benchExtensionCost());
	} finally {
		cleanupTempDirs();
	}
}
