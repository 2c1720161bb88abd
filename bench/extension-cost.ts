// Benchmark 6: what the extension itself costs. The same one-prompt `pi -p` answered by plain
// pi with its own login in auth.json (no extension) and by pi with the extension (`-e
// index.ts`) and one managed account (no auth.json), alternated, on both pi lines: medians of
// wall time and of peak RSS (and CPU time, for reading the wall time on a busy machine).
//
// Two more variants, also alternated, show what pi itself charges (both answer with pi's own
// login): pi with an empty TypeScript extension (loading any extension), and pi with SPEC A9's
// file layout as empty modules whose index.ts only registers the `openai-codex` provider again
// (what any extension built to A9 that takes over the Codex provider costs before doing
// anything). The extension's own cost is the gap above the second.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import {
	cleanupTempDirs,
	makeAgentDir,
	makeTempDir,
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

export type CostVariant = "plain" | "empty" | "layout" | "extension";

/** SPEC A9's required modules besides index.ts; the floor loads one empty module each. */
const A9_MODULES = [
	"extension",
	"account-manager",
	"storage",
	"selection",
	"usage",
	"auth",
	"hooks",
	"commands",
	"status",
	"stream-wrapper",
];

/** Writes the two do-nothing extensions of the floor variants; returns their entry files. */
export function writeFloorExtensions(): { empty: string; layout: string } {
	const emptyDir = makeTempDir("multicodex-bench-empty-");
	const empty = join(emptyDir, "index.ts");
	writeFileSync(empty, "export default function emptyExtension(_pi: unknown): void {}\n");
	const layoutDir = makeTempDir("multicodex-bench-layout-");
	for (const name of A9_MODULES) {
		const exported = name.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
		writeFileSync(join(layoutDir, `${name}.ts`), `export const ${exported}: string = "${name}";\n`);
	}
	const layout = join(layoutDir, "index.ts");
	// The same registration pi sees from the extension: its built-in Codex provider, taken over.
	writeFileSync(
		layout,
		`${A9_MODULES.map((name) => `export * from "./${name}.ts";`).join("\n")}\n` +
			"export default function layoutExtension(pi: {\n" +
			"\tregisterProvider(name: string, config: { baseUrl: string }): void;\n" +
			"}): void {\n" +
			'\tpi.registerProvider("openai-codex", { baseUrl: "https://chatgpt.com/backend-api" });\n' +
			"}\n",
	);
	return { empty, layout };
}

/**
 * A returning user's agent dir for one variant: made once and used by every run of it, so
 * every measured run finds what the runs before it left (pi's login, or the accounts file with
 * the active account saved and the last usage snapshot), as on a user's machine. The untimed
 * warm-up run of `alternate` is the first start.
 */
export interface CostSetup {
	variant: CostVariant;
	agentDir: string;
	extensionPath?: string;
}

export function prepareCostRun(
	sim: SimBackend,
	variant: CostVariant,
	floors?: { empty: string; layout: string },
): CostSetup {
	const agentDir = makeAgentDir();
	writeSettingsJson(agentDir);
	if (variant === "extension") {
		writeManagedAccounts(agentDir, sim, [EMAIL]);
		return { variant, agentDir, extensionPath: EXTENSION };
	}
	const c = sim.issueTokens(EMAIL);
	writeAuthJson(agentDir, {
		access: c.access,
		refresh: c.refresh,
		expires: c.expires,
		accountId: c.accountId,
	});
	if (variant === "plain") return { variant, agentDir };
	if (!floors) throw new Error(`the ${variant} variant needs writeFloorExtensions()`);
	return { variant, agentDir, extensionPath: floors[variant] };
}

/** One run of a prepared variant; `nodeArgs` lets a profiler ride along. */
export async function costRun(
	line: PiLine,
	sim: SimBackend,
	setup: CostSetup,
	nodeArgs: string[] = [],
): Promise<MeasuredRun> {
	const run = await runMeasured(line, {
		agentDir: setup.agentDir,
		simUrl: sim.url,
		extensionPath: setup.extensionPath,
		args: ["--no-session", ...modelArgs(), "-p", "hi"],
		nodeArgs,
	});
	expectAnswer(run, new RegExp(`Answered by ${EMAIL}`), `${line.name} ${setup.variant} run`);
	return run;
}

/**
 * Repetitions per line: the differences sought are a few percent, and this machine's runs of
 * the same thing differ by 10–20 % (its CPU switches speed every few seconds).
 */
const DEFAULT_REPS: Record<string, number> = { "pi-0.73": 17, "pi-1.3": 21 };

export async function benchExtensionCost(options: { reps?: number } = {}): Promise<BenchRow[]> {
	const rows: BenchRow[] = [];
	const floors = writeFloorExtensions();
	for (const line of PI_LINES) {
		const reps = options.reps ?? repsFromEnv(DEFAULT_REPS[line.name] ?? 11);
		const sim = await startSimBackend({ accounts: [{ email: EMAIL }] });
		try {
			log(`6 extension cost on ${line.name}: ${reps} × 4 runs`);
			const variants: CostVariant[] = ["plain", "empty", "layout", "extension"];
			const setups = variants.map((variant) => prepareCostRun(sim, variant, floors));
			const [plain, empty, layout, withExtension] = (await alternate(
				reps,
				setups.map((setup) => () => costRun(line, sim, setup)),
			)) as [MeasuredRun[], MeasuredRun[], MeasuredRun[], MeasuredRun[]];
			rows.push(...costRows(line.name, { plain, empty, layout, withExtension }));
		} finally {
			await sim.close();
		}
	}
	return rows;
}

const wallOf = (runs: MeasuredRun[]) => median(runs.map((r) => r.durationMs));
const rssOf = (runs: MeasuredRun[]) => median(runs.map((r) => r.maxRssKiB));
const cpuOf = (runs: MeasuredRun[]) => median(runs.map((r) => r.cpuMs));

function wallDetail(name: string, runs: MeasuredRun[]): string {
	return `${name} ${Math.round(wallOf(runs))} ms ${samples(runs.map((r) => r.durationMs))}`;
}

function pairedWall(a: MeasuredRun[], b: MeasuredRun[]): string {
	return fmtRatio(
		pairedRatio(
			a.map((r) => r.durationMs),
			b.map((r) => r.durationMs),
		),
	);
}

function costRows(
	line: string,
	runs: Record<"plain" | "empty" | "layout" | "withExtension", MeasuredRun[]>,
): BenchRow[] {
	const { plain, empty, layout, withExtension } = runs;
	const wallRatio = wallOf(withExtension) / wallOf(plain);
	const rssDeltaKiB = rssOf(withExtension) - rssOf(plain);
	const floorRow = (variant: MeasuredRun[], what: string, name: string): BenchRow => ({
		bench: "6 extension-cost",
		line,
		metric: `wall time, ${what} ÷ plain pi (medians): pi's own cost of loading it`,
		value: fmtRatio(wallOf(variant) / wallOf(plain)),
		target: "—",
		status: "info",
		detail: `${wallDetail(name, variant)}; median of paired ratios ${pairedWall(variant, plain)}`,
	});
	return [
		{
			bench: "6 extension-cost",
			line,
			metric: "wall time, pi + extension + 1 account ÷ plain pi with its login (medians)",
			value: fmtRatio(wallRatio, WALL_TARGET),
			target: `≤ ${WALL_TARGET}×`,
			status: passOrMiss(wallRatio <= WALL_TARGET),
			detail: `${wallDetail("extension", withExtension)}; ${wallDetail("plain", plain)}; median of paired ratios ${pairedWall(withExtension, plain)}`,
		},
		floorRow(empty, "pi + an empty TypeScript extension", "empty extension"),
		floorRow(
			layout,
			"pi + A9's 11 files as empty modules registering the openai-codex provider",
			"A9 layout + provider",
		),
		{
			bench: "6 extension-cost",
			line,
			metric:
				"wall time, pi + extension ÷ pi + A9 layout registering the provider (medians): our own cost",
			value: fmtRatio(wallOf(withExtension) / wallOf(layout)),
			target: "—",
			status: "info",
			detail: `median of paired ratios ${pairedWall(withExtension, layout)}`,
		},
		{
			bench: "6 extension-cost",
			line,
			metric: "peak RSS, extension − plain (medians)",
			value: fmtMiB(rssDeltaKiB),
			target: `≤ +${RSS_TARGET_MIB} MiB`,
			status: passOrMiss(rssDeltaKiB / 1024 <= RSS_TARGET_MIB),
			detail: `extension ${(rssOf(withExtension) / 1024).toFixed(1)} MiB, plain ${(rssOf(plain) / 1024).toFixed(1)} MiB`,
		},
		{
			bench: "6 extension-cost",
			line,
			metric: "CPU time (user+sys), extension ÷ plain (medians)",
			value: fmtRatio(cpuOf(withExtension) / cpuOf(plain)),
			target: "—",
			status: "info",
			detail: `extension ${Math.round(cpuOf(withExtension))} ms ${samples(withExtension.map((r) => r.cpuMs))}; plain ${Math.round(cpuOf(plain))} ms ${samples(plain.map((r) => r.cpuMs))}`,
		},
	];
}

if (isMainModule(import.meta.url)) {
	try {
		printRows(await benchExtensionCost());
	} finally {
		cleanupTempDirs();
	}
}
