import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { pathToFileURL } from "node:url";
import { AccountManager } from "../account-manager.ts";
import { chooseAccount, pickBestAccount } from "../selection.ts";
import type { Account } from "../storage.ts";
import { writeAccountsFile } from "../test/support/accounts-file.ts";
import { cleanupTempDirs, makeAgentDir, PRELOAD_PATH } from "../test/support/pi-runner.ts";
import type { CodexUsageSnapshot } from "../usage.ts";
import {
	type BenchRow,
	fmtMs,
	isMainModule,
	log,
	median,
	passOrMiss,
	printRows,
} from "./support.ts";

const ACCOUNTS = 1000;
const CHOICE_TARGET_MS = 1;
const IN_FLIGHT_TARGET = 8;
/** How long the local usage endpoint takes per answer, so concurrency is visible. */
const USAGE_DELAY_MS = 15;
const USAGE_PATH = "/backend-api/wham/usage";

function makeAccounts(now: number): Account[] {
	return Array.from({ length: ACCOUNTS }, (_, i) => ({
		email: `user${String(i).padStart(4, "0")}@bench.test`,
		accessToken: `bench-access-${i}`,
		refreshToken: `bench-refresh-${i}`,
		expiresAt: now + 3_600_000,
		accountId: `acct-bench-${i}`,
		// A few cooling down and a few needing re-authentication, as in a real long list.
		quotaExhaustedUntil: i % 50 === 7 ? now + 3_600_000 : undefined,
		needsReauth: i % 97 === 5 ? true : undefined,
	}));
}

/** Varied usage, none untouched, so the choice really compares all of them. */
function makeUsage(accounts: Account[], now: number): Map<string, CodexUsageSnapshot> {
	const usage = new Map<string, CodexUsageSnapshot>();
	accounts.forEach((account, i) => {
		usage.set(account.email, {
			primary: { usedPercent: 5 + ((i * 37) % 90), resetAt: now + ((i * 13) % 300) * 60_000 },
			secondary: { usedPercent: 10 + ((i * 17) % 85), resetAt: now + ((i * 7) % 10_080) * 60_000 },
			fetchedAt: now,
		});
	});
	return usage;
}

/** Median ms per call of `fn` over `calls` calls, after a warm-up. */
function timePerCall(calls: number, fn: (i: number) => unknown): { median: number; max: number } {
	for (let i = 0; i < 50; i++) fn(i);
	const times: number[] = [];
	for (let i = 0; i < calls; i++) {
		const started = performance.now();
		fn(i);
		times.push(performance.now() - started);
	}
	return { median: median(times), max: Math.max(...times) };
}

async function timePerCallAsync(
	calls: number,
	fn: (i: number) => Promise<unknown>,
): Promise<{ median: number; max: number }> {
	for (let i = 0; i < 10; i++) await fn(i);
	const times: number[] = [];
	for (let i = 0; i < calls; i++) {
		const started = performance.now();
		await fn(i);
		times.push(performance.now() - started);
	}
	return { median: median(times), max: Math.max(...times) };
}

function choiceRow(
	metric: string,
	timing: { median: number; max: number },
	calls: number,
): BenchRow {
	return {
		bench: "5 many-accounts",
		line: `in-process (Node ${process.version})`,
		metric,
		value: fmtMs(timing.median),
		target: `< ${CHOICE_TARGET_MS} ms`,
		status: passOrMiss(timing.median < CHOICE_TARGET_MS),
		detail: `median of ${calls} calls, slowest ${fmtMs(timing.max)}`,
	};
}

/** A usage endpoint that answers after a delay and records the most requests it held at once. */
async function startCountingUsageServer(): Promise<{
	server: Server;
	url: string;
	stats: { inFlight: number; maxInFlight: number; total: number };
}> {
	const stats = { inFlight: 0, maxInFlight: 0, total: 0 };
	const now = Math.floor(Date.now() / 1000);
	const body = JSON.stringify({
		plan_type: "plus",
		rate_limit: {
			primary_window: { used_percent: 12, limit_window_seconds: 18_000, reset_at: now + 3600 },
			secondary_window: { used_percent: 30, limit_window_seconds: 604_800, reset_at: now + 86_400 },
		},
	});
	const server = createServer((req, res) => {
		if (!req.url?.startsWith(USAGE_PATH)) {
			res.writeHead(404).end();
			return;
		}
		stats.total++;
		stats.inFlight++;
		stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
		setTimeout(() => {
			stats.inFlight--;
			res.writeHead(200, { "content-type": "application/json" }).end(body);
		}, USAGE_DELAY_MS);
	});
	await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
	const port = (server.address() as AddressInfo).port;
	return { server, url: `http://127.0.0.1:${port}`, stats };
}

export async function benchManyAccounts(): Promise<BenchRow[]> {
	const rows: BenchRow[] = [];
	const now = Date.now();
	const accounts = makeAccounts(now);
	const usage = makeUsage(accounts, now);
	log(`5 many accounts: selection over ${ACCOUNTS} accounts`);

	const calls = 500;
	rows.push(
		choiceRow(
			`pickBestAccount, ${ACCOUNTS} accounts`,
			timePerCall(calls, () => pickBestAccount(accounts, usage, { now })),
			calls,
		),
	);
	rows.push(
		choiceRow(
			`chooseAccount (lowest-usage, proactive 80 %), ${ACCOUNTS} accounts`,
			timePerCall(calls, () => chooseAccount(accounts, usage, { now, proactiveSwitchPercent: 80 })),
			calls,
		),
	);

	// PI_CODING_AGENT_DIR stays on the temp dir afterwards: a late usage-cache save must never
	// reach the user's real agent dir (pi children get their own env from pi-runner).
	const previousSimUrl = process.env.MULTICODEX_SIM_URL;
	const agentDir = makeAgentDir();
	process.env.PI_CODING_AGENT_DIR = agentDir;
	const usageServer = await startCountingUsageServer();
	let manager: AccountManager | undefined;
	try {
		writeAccountsFile(agentDir, accounts);
		// Send the real usage client's https://chatgpt.com/... requests to the counting server.
		process.env.MULTICODEX_SIM_URL = usageServer.url;
		await import(pathToFileURL(PRELOAD_PATH).href);

		const constructStarted = performance.now();
		const live = new AccountManager();
		manager = live;
		const constructMs = performance.now() - constructStarted;
		log(`5 many accounts: refreshUsageForAllAccounts with ${ACCOUNTS} accounts`);
		const refreshStarted = performance.now();
		await live.refreshUsageForAllAccounts();
		const refreshMs = performance.now() - refreshStarted;
		const fetched = usageServer.stats.total;
		rows.push({
			bench: "5 many-accounts",
			line: `in-process (Node ${process.version})`,
			metric: `usage requests in flight at once, refreshUsageForAllAccounts() with ${ACCOUNTS} accounts`,
			value: String(usageServer.stats.maxInFlight),
			target: `≤ ${IN_FLIGHT_TARGET}`,
			status: passOrMiss(usageServer.stats.maxInFlight <= IN_FLIGHT_TARGET && fetched > 0),
			detail: `${fetched} usage requests answered in ${Math.round(refreshMs)} ms (server answers after ${USAGE_DELAY_MS} ms); new AccountManager() with ${ACCOUNTS} accounts took ${Math.round(constructMs)} ms`,
		});

		// Fresh usage for every account now sits in the cache: time the choice itself.
		const steady = await timePerCallAsync(200, () => live.activateBestAccount());
		rows.push(
			choiceRow(
				`AccountManager.activateBestAccount, fresh usage cached, active account kept`,
				steady,
				200,
			),
		);
		// Where the steady choice goes: the staleness scan and the pure choice on the same data.
		const liveAccounts = live.getAccounts();
		const liveUsage = new Map<string, CodexUsageSnapshot>();
		for (const account of liveAccounts) {
			const snapshot = live.getCachedUsage(account.email);
			if (snapshot) liveUsage.set(account.email, snapshot);
		}
		const scan = await timePerCallAsync(200, () => live.refreshUsageIfStale(liveAccounts));
		const pure = timePerCall(200, () =>
			chooseAccount(liveAccounts, liveUsage, { currentEmail: undefined }),
		);
		const last = rows.at(-1);
		if (last) {
			last.detail = `${last.detail}; of which refreshUsageIfStale() scan ${fmtMs(scan.median)} and chooseAccount() ${fmtMs(pure.median)} (medians)`;
		}
		// Switching persists activeEmail: the accounts file is rewritten under its lock.
		const managed = live.getManagedAccounts();
		const switching = await timePerCallAsync(50, (i) => {
			const keep = managed[(i * 7) % managed.length]?.email;
			const excludeEmails = new Set(
				live
					.getAccounts()
					.map((a) => a.email)
					.filter((email) => email !== keep),
			);
			return live.activateBestAccount({ excludeEmails });
		});
		rows.push(
			choiceRow(
				"AccountManager.activateBestAccount, switching account (persists activeEmail)",
				switching,
				50,
			),
		);
	} finally {
		manager?.cancelBackgroundWork();
		await new Promise<void>((resolve) => usageServer.server.close(() => resolve()));
		if (previousSimUrl === undefined) delete process.env.MULTICODEX_SIM_URL;
		else process.env.MULTICODEX_SIM_URL = previousSimUrl;
	}
	return rows;
}

if (isMainModule(import.meta.url)) {
	try {
		printRows(await benchManyAccounts());
	} finally {
		cleanupTempDirs();
	}
}
