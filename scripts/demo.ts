// `npm run demo`: try Multicodex without an account. Starts the simulated Codex backend on
// 127.0.0.1 with three accounts (one out of quota), runs the real pi (both lines) with the
// extension in a temporary agent dir, and says in plain words what happened and why.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { SELECTION_USAGE_WAIT_MS } from "../account-manager.ts";
import { writeManagedAccounts } from "../test/support/accounts-file.ts";
import {
	cleanupTempDirs,
	makeAgentDir,
	modelArgs,
	PI_LINES,
	runPi,
	writeSettingsJson,
} from "../test/support/pi-runner.ts";
import { type SimBackend, startSimBackend, USAGE_PATH } from "../test/support/sim-backend.ts";

const EXTENSION = resolve(import.meta.dirname, "..", "index.ts");
const ACCOUNTS = ["alice@demo.test", "bob@demo.test", "carol@demo.test"];
const [TIRED, ...OTHERS] = ACCOUNTS as [string, ...string[]];

function minutesUntil(ms: number): number {
	return Math.round((ms - Date.now()) / 60_000);
}

/** What the rotation policy compares: the larger used % of the two windows. */
function maxUsedPercent(sim: SimBackend, email: string): number {
	const usage = sim.account(email).usage;
	return Math.max(usage.primaryUsedPercent, usage.secondaryUsedPercent);
}

/** When the backend answered a usage request for `email` (ms), if it did. */
function usageAnsweredAt(sim: SimBackend, email: string): number | undefined {
	return sim.state.requests.find(
		(r) => r.path === USAGE_PATH && r.email === email && r.status === 200,
	)?.at;
}

/**
 * Why the retry went to `answered`, from what the backend saw: the usage answers it sent for
 * the rest before the retry arrived. Multicodex chooses by usage when it knows it, else at
 * random, and waits at most SELECTION_USAGE_WAIT_MS for it, so a usage answer may come just
 * after the choice; when the pick is not the lowest of them, that is what happened.
 */
function explainRetryChoice(sim: SimBackend, answered: string): string {
	const retryAt = sim.responsesFor(answered)[0]?.at ?? Number.POSITIVE_INFINITY;
	const reported = OTHERS.filter((email) => (usageAnsweredAt(sim, email) ?? retryAt) < retryAt);
	const random = "a random pick among the rest, since no usage of theirs was known when it chose";
	if (reported.length === 0) return random;
	const lowest = reported.reduce((best, email) =>
		maxUsedPercent(sim, email) < maxUsedPercent(sim, best) ? email : best,
	);
	if (answered !== lowest) {
		return (
			`${random} (it came just after: a choice waits at most ${SELECTION_USAGE_WAIT_MS} ms ` +
			`for usage answers, or ${lowest} would have been picked)`
		);
	}
	const figures = reported.map((email) => `${email} ${maxUsedPercent(sim, email)} % used`);
	const lead = retryAt - Math.max(...reported.map((email) => usageAnsweredAt(sim, email) ?? 0));
	const which =
		reported.length === OTHERS.length
			? "the lowest usage of the rest"
			: "the only one of the rest whose usage was known";
	return (
		`${which} (${figures.join(", ")}), which the backend had reported ${lead} ms before the ` +
		"retry: the rotation policy picks the lowest usage it knows"
	);
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
		const why = answered ? explainRetryChoice(sim, answered) : "no other account answered";
		console.log(
			`  3. It retried at once on ${answered ?? "another account"}: ${why}. That answer is what you see.`,
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
