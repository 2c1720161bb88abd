// Installs Node 22 (npm package `node@22`) into tools/node22 for the pi 1.x test runs.
// It lives in a folder of its own so its `node` binary never shadows the machine's Node 20
// in this project's node_modules/.bin (npm scripts would then run everything with it).
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const toolDir = join(dirname(fileURLToPath(import.meta.url)), "..", "tools", "node22");
const nodeBin = join(toolDir, "node_modules", ".bin", "node");

function node22Version() {
	try {
		return execFileSync(nodeBin, ["--version"], { encoding: "utf8" }).trim();
	} catch {
		return undefined;
	}
}

if (!existsSync(nodeBin) || !node22Version()?.startsWith("v22.")) {
	console.error("Installing Node 22 for the pi 1.x runs (tools/node22)...");
	execFileSync("npm", ["ci", "--no-audit", "--no-fund", "--prefix", toolDir], { stdio: "inherit" });
}
const version = node22Version();
if (!version?.startsWith("v22.")) {
	console.error(`Node 22 is not usable at ${nodeBin} (got ${version ?? "nothing"}).`);
	process.exit(1);
}
