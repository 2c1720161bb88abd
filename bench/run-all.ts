// `npm run bench`: every benchmark of issue 4 on both pi lines, one markdown table (also
// written to bench/results.md) with the machine it ran on. Each ratio is measured against a
// baseline in the same run; PASS/MISS compares it with the target. Not part of CI.
import { writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { cleanupTempDirs, PI_LINES } from "../test/support/pi-runner.ts";
import { benchExtensionCost } from "./extension-cost.ts";
import { benchManyAccounts } from "./many-accounts.ts";
import { benchRotation } from "./rotation.ts";
import { benchSlowUsage } from "./slow-usage.ts";
import { benchStreamThroughput } from "./stream-throughput.ts";
import {
	type BenchRow,
	log,
	machineInfo,
	RESULTS_FILE,
	renderMachine,
	renderNotes,
	renderTable,
} from "./support.ts";

interface Step {
	name: string;
	run: () => Promise<BenchRow[]>;
}

const STEPS: Step[] = [
	{ name: "4 stream-throughput", run: () => benchStreamThroughput() },
	{ name: "5 many-accounts", run: () => benchManyAccounts() },
	{ name: "1+3 rotation", run: () => benchRotation() },
	{ name: "2 slow-usage", run: () => benchSlowUsage() },
	{ name: "6 extension-cost", run: () => benchExtensionCost() },
];

function formatLoad(): string {
	return loadavg()
		.map((n) => n.toFixed(2))
		.join(" / ");
}

async function main(): Promise<void> {
	const started = Date.now();
	const loadBefore = formatLoad();
	const machine = machineInfo(PI_LINES);
	const rows: BenchRow[] = [];
	for (const step of STEPS) {
		const stepStarted = Date.now();
		try {
			rows.push(...(await step.run()));
		} catch (error) {
			rows.push({
				bench: step.name,
				line: "—",
				metric: "benchmark failed",
				value: "error",
				target: "—",
				status: "MISS",
				detail: String(error instanceof Error ? error.message : error).slice(0, 600),
			});
		} finally {
			cleanupTempDirs();
		}
		log(`${step.name} done in ${((Date.now() - stepStarted) / 1000).toFixed(0)} s`);
	}
	rows.sort((a, b) => Number.parseInt(a.bench, 10) - Number.parseInt(b.bench, 10));
	const seconds = ((Date.now() - started) / 1000).toFixed(0);
	const misses = rows.filter((r) => r.status === "MISS").length;
	const targets = rows.filter((r) => r.status !== "info").length;
	const report = [
		"# Benchmarks (issue 4)",
		"",
		`Run ${new Date(started).toISOString().replace(/\.\d+Z$/, "Z")} by \`npm run bench\` in ${seconds} s. ` +
			`${targets - misses} of ${targets} targets met.`,
		"",
		`${renderMachine(machine)} Load average (1/5/15 min) before: ${loadBefore}; after: ${formatLoad()}.`,
		"",
		"Whole-run benchmarks alternate their two variants (ABBA order, one warm-up run of each) " +
			"against the simulated backend; PASS/MISS uses the ratio of the two medians. Wall times on a " +
			"busy machine are noisy, so the details also give the median of the per-pair ratios (runs " +
			"that ran back to back) and CPU time (user+sys of the pi process).",
		"",
		renderTable(rows),
		"",
		"Details:",
		"",
		renderNotes(rows),
		"",
	].join("\n");
	writeFileSync(RESULTS_FILE, report);
	console.log(report);
	log(`results written to ${RESULTS_FILE}`);
}

await main();
