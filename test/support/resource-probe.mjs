// Resource probe for benchmarks: `node --import <this file> <pi cli> ...` (Node 20 and 22).
// When MULTICODEX_BENCH_RSS_FILE is set, the process writes its peak resident set size and CPU
// time to that file as it exits: `{ "maxRssKiB": n, "userCpuMs": n, "systemCpuMs": n }`.
// Without the variable it does nothing.
import { writeFileSync } from "node:fs";

const OUTPUT_FILE = process.env.MULTICODEX_BENCH_RSS_FILE;

if (OUTPUT_FILE) {
	process.on("exit", () => {
		const usage = process.resourceUsage();
		const record = {
			maxRssKiB: usage.maxRSS,
			userCpuMs: Math.round(usage.userCPUTime / 1000),
			systemCpuMs: Math.round(usage.systemCPUTime / 1000),
		};
		try {
			writeFileSync(OUTPUT_FILE, JSON.stringify(record));
		} catch (error) {
			process.stderr.write(`[resource-probe] cannot write ${OUTPUT_FILE}: ${String(error)}\n`);
		}
	});
}
