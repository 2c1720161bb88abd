// Shared pieces of the benchmarks: measured `pi -p` runs (wall time, peak RSS and CPU time
// through test/support/resource-probe.mjs), alternated repetitions, medians, the result rows
// with PASS/MISS against a target, the markdown table and the machine description.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
	makeTempDir,
	type PiLine,
	type RunPiOptions,
	type RunPiResult,
	runPi,
} from "../test/support/pi-runner.ts";

export const REPO = resolve(import.meta.dirname, "..");
export const EXTENSION = join(REPO, "index.ts");
export const RESOURCE_PROBE = join(REPO, "test/support/resource-probe.mjs");
export const RESULTS_FILE = join(REPO, "bench/results.md");

/** One line of the results table. `status` is PASS/MISS against `target`, or info. */
export interface BenchRow {
	bench: string;
	line: string;
	metric: string;
	value: string;
	target: string;
	status: "PASS" | "MISS" | "info";
	/** Raw numbers behind the value (medians, samples), for the notes below the table. */
	detail?: string;
}

export function median(values: number[]): number {
	if (values.length === 0) return Number.NaN;
	const sorted = [...values].sort((a, b) => a - b);
	const mid = Math.floor(sorted.length / 2);
	return sorted.length % 2 === 1
		? (sorted[mid] as number)
		: ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * Median of a[i] / b[i]: runs i of two alternated variants ran back to back, so each pair saw
 * about the same machine load. Steadier than a ratio of medians on a busy machine.
 */
export function pairedRatio(a: number[], b: number[]): number {
	const n = Math.min(a.length, b.length);
	return median(Array.from({ length: n }, (_, i) => (a[i] as number) / (b[i] as number)));
}

export function passOrMiss(pass: boolean): "PASS" | "MISS" {
	return pass ? "PASS" : "MISS";
}

export function ratio(numerator: number, denominator: number): number {
	return numerator / denominator;
}

/** Two decimals; three when two would hide on which side of `target` the value lies. */
export function fmtRatio(value: number, target?: number): string {
	const close = target !== undefined && Math.abs(value - target) < 0.005;
	return `${value.toFixed(close ? 3 : 2)}×`;
}

export function fmtMs(value: number): string {
	return value >= 100 ? `${Math.round(value)} ms` : `${value.toFixed(value >= 10 ? 1 : 3)} ms`;
}

export function fmtMiB(kib: number): string {
	const mib = kib / 1024;
	return `${mib >= 0 ? "+" : "−"}${Math.abs(mib).toFixed(1)} MiB`;
}

/** Sorted samples, compact, for the notes. */
export function samples(values: number[], unit = "ms"): string {
	return `[${[...values]
		.sort((a, b) => a - b)
		.map((v) => Math.round(v))
		.join(", ")}] ${unit}`;
}

export interface MeasuredRun extends RunPiResult {
	/** Peak RSS of the pi process (KiB); NaN when the probe wrote nothing. */
	maxRssKiB: number;
	/** User + system CPU time of the pi process (ms); NaN when unknown. */
	cpuMs: number;
}

/** `runPi` with the resource probe as a second `--import`. */
export async function runMeasured(line: PiLine, opts: RunPiOptions): Promise<MeasuredRun> {
	const probeFile = join(makeTempDir("multicodex-bench-probe-"), "usage.json");
	const result = await runPi(line, {
		timeoutMs: 60_000,
		...opts,
		nodeArgs: ["--import", RESOURCE_PROBE, ...(opts.nodeArgs ?? [])],
		env: { ...opts.env, MULTICODEX_BENCH_RSS_FILE: probeFile },
	});
	let maxRssKiB = Number.NaN;
	let cpuMs = Number.NaN;
	try {
		const usage = JSON.parse(readFileSync(probeFile, "utf8"));
		maxRssKiB = usage.maxRssKiB;
		cpuMs = usage.userCpuMs + usage.systemCpuMs;
	} catch {
		// pi died before its exit handlers ran; the caller reports the failed run.
	}
	return { ...result, maxRssKiB, cpuMs };
}

/** Throws with pi's output when a run did not end as expected. */
export function expectAnswer(run: RunPiResult, answer: RegExp, what: string): void {
	if (run.code === 0 && !run.timedOut && answer.test(run.stdout)) return;
	throw new Error(
		`${what}: pi exited ${run.code}${run.timedOut ? " (timed out)" : ""} without ${answer}\n` +
			`stdout: ${run.stdout.slice(-800)}\nstderr: ${run.stderr.slice(-1500)}`,
	);
}

/**
 * Runs the variants `reps` times each, alternated in ABBA order (A B B A A B …) so a drift in
 * machine load hits both the same, after one untimed warm-up run of each.
 */
export async function alternate<T>(
	reps: number,
	variants: (() => Promise<T>)[],
	options: { warmup?: boolean } = {},
): Promise<T[][]> {
	if (options.warmup ?? true) for (const variant of variants) await variant();
	const results: T[][] = variants.map(() => []);
	for (let rep = 0; rep < reps; rep++) {
		const order = variants.map((_, i) => i);
		if (rep % 2 === 1) order.reverse();
		for (const i of order) results[i]?.push(await (variants[i] as () => Promise<T>)());
	}
	return results;
}

export interface MachineInfo {
	cpu: string;
	cores: number;
	node20: string;
	node22: string;
	piLines: string;
}

export function machineInfo(lines: PiLine[]): MachineInfo {
	const versionOf = (node: string) => {
		const out = spawnSync(node, ["--version"], { encoding: "utf8" });
		return out.status === 0 ? out.stdout.trim() : "unavailable";
	};
	const piVersion = (line: PiLine) => {
		const pkg = resolve(
			line.cli,
			line.name === "pi-1.3" ? "../../../package.json" : "../../package.json",
		);
		try {
			return `${line.name.replace(/-.*/, "")} ${JSON.parse(readFileSync(pkg, "utf8")).version}`;
		} catch {
			return line.name;
		}
	};
	const cpuList = cpus();
	return {
		cpu: cpuList[0]?.model.trim() ?? "unknown",
		cores: cpuList.length,
		node20: process.version,
		node22: versionOf(lines.find((l) => l.name === "pi-1.3")?.node ?? "node"),
		piLines: lines.map(piVersion).join(", "),
	};
}

export function renderTable(rows: BenchRow[]): string {
	const header = "| # | benchmark | pi line | metric | measured | target | result |";
	const rule = "|---|---|---|---|---|---|---|";
	const body = rows.map(
		(r) =>
			`| ${r.bench.split(" ")[0]} | ${r.bench.split(" ").slice(1).join(" ")} | ${r.line} | ${r.metric} | ${r.value} | ${r.target} | ${r.status === "info" ? "info" : `**${r.status}**`} |`,
	);
	return [header, rule, ...body].join("\n");
}

export function renderNotes(rows: BenchRow[]): string {
	return rows
		.filter((r) => r.detail)
		.map((r) => `- ${r.bench} / ${r.line} / ${r.metric}: ${r.detail}`)
		.join("\n");
}

export function renderMachine(info: MachineInfo): string {
	return `Machine: ${info.cpu}, ${info.cores} cores; Node ${info.node20} (pi 0.73, in-process benchmarks) and ${info.node22} (pi 1.3); ${info.piLines}.`;
}

/** True when the module is the script node was started with (run on its own). */
export function isMainModule(metaUrl: string): boolean {
	return process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(metaUrl);
}

/** Prints one benchmark's rows when a script is run on its own. */
export function printRows(rows: BenchRow[]): void {
	console.log(`\n${renderTable(rows)}\n`);
	const notes = renderNotes(rows);
	if (notes) console.log(`${notes}\n`);
}

/** Repetitions: the default, or BENCH_REPS for a quicker (noisier) look. */
export function repsFromEnv(fallback: number): number {
	const value = Number(process.env.BENCH_REPS);
	return Number.isInteger(value) && value > 0 ? value : fallback;
}

export function log(message: string): void {
	process.stderr.write(`[bench] ${message}\n`);
}

export { writeManagedAccounts } from "../test/support/accounts-file.ts";
