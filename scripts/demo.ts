// `npm run demo`: try Multicodex without an account. Starts the simulated Codex backend on
// 127.0.0.1 with three accounts (one out of quota), runs the real pi (both lines) with the
// extension in a temporary agent dir, and says in plain words what happened and why.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { writeManagedAccounts } from "../test/support/accounts-file.ts";
import {
	cleanupTempDirs,
	makeAgentDir,
	modelArgs,
	PI_LINES,
	runPi,
	writeSettingsJson,
} from "../test/support/pi-runner.ts";
import { startSimBackend } from "../test/support/sim-backend.ts";

const EXTENSION = resolve(import.meta.dirname, "..", "index.ts");
const ACCOUNTS = ["alice@demo.test", "bob@demo.test", "carol@demo.test"];
const [TIRED, ...OTHERS] = ACCOUNTS as [string, ...string[]];

function minutesUntil(ms: number): number {
	return Math.round((ms - Date.now()) / 60_000);
}

async function demoOnLine(line: (typeof PI_LINES)[number]): Promise<boolean> {
	const sim = await startSimBackend({
		accounts: [
			{
				email: TIRED,
				exhausted: true,
				usage: { primaryResetAt: Math.floor(Date.now() / 1000) + 90 * 60 },
			},
			{ email: OTHERS[0] as string, usage: { primaryUsedPercent: 35, secondaryUsedPercent: 40 } },
			{ email: OTHERS[1] as string, usage: { primaryUsedPercent: 60, secondaryUsedPercent: 70 } },
		],
	});
	try {
		const agentDir = makeAgentDir();
		writeSettingsJson(agentDir);
		writeManagedAccounts(agentDir, sim, ACCOUNTS);

		console.log(`\n── ${line.name} ─────────────────────────────────────────────`);
		console.log(`Accounts: ${ACCOUNTS.join(", ")} (${TIRED} is out of quota at the backend).`);
		console.log(`You pick ${TIRED} by hand, then ask a question:`);
		console.log(`  pi -p "/multicodex use ${TIRED}" "Say hello"`);
		const result = await runPi(line, {
			agentDir,
			simUrl: sim.url,
			extensionPath: EXTENSION,
			args: ["--no-session", ...modelArgs(), "-p", `/multicodex use ${TIRED}`, "Say hello"],
			timeoutMs: 60_000,
		});
		const answer = result.stdout.trim();
		const answered = OTHERS.find((email) => answer.includes(email));
		const tiredRequests = sim.responsesFor(TIRED);
		const stored = JSON.parse(readFileSync(join(agentDir, "codex-accounts.json"), "utf8")) as {
			accounts: { email: string; quotaExhaustedUntil?: number }[];
		};
		const cooldown = stored.accounts.find((a) => a.email === TIRED)?.quotaExhaustedUntil;

		console.log(
			`pi answered (exit ${result.code}, ${(result.durationMs / 1000).toFixed(1)} s): "${answer}"`,
		);
		console.log("What happened:");
		console.log(
			`  1. ${TIRED} was tried first (your pick) and the backend refused it: ` +
				`${tiredRequests.map((r) => `HTTP ${r.status} over ${r.transport.toUpperCase()}`).join(", ")} ` +
				`(usage_limit_reached). Multicodex saw it before any text reached you, with ${tiredRequests.length} request.`,
		);
		if (cooldown) {
			console.log(
				`  2. It put ${TIRED} on cooldown until the reset the backend named: in ${minutesUntil(cooldown)} min ` +
					"(saved in codex-accounts.json, so other pi windows skip it too).",
			);
		}
		console.log(
			`  3. It retried at once on ${answered ?? "another account"}, the rotation policy's pick among the rest ` +
				"(the lowest usage known at that moment: a first run waits at most 50 ms for usage answers), " +
				"and that answer is what you see.",
		);
		return result.code === 0 && Boolean(answered) && tiredRequests.length === 1;
	} finally {
		await sim.close();
	}
}

async function main(): Promise<void> {
	console.log(
		"Multicodex demo: a simulated Codex backend on 127.0.0.1, the real pi, no real account.",
	);
	let ok = true;
	for (const line of PI_LINES) ok = (await demoOnLine(line)) && ok;
	cleanupTempDirs();
	console.log(
		ok ? "\nDemo finished: both pi lines rotated past the exhausted account." : "\nDemo FAILED.",
	);
	process.exit(ok ? 0 : 1);
}

void main();
