// A child process for the concurrency tests: one of several writers of one agent dir. It says
// `ready` once its imports are done, waits for `go` on stdin (so every writer starts together),
// then works and reports on stdout. Modes:
//   changes <agentDir> <worker> <count> <seed>  random add/update/cooldown/remove through
//       AccountManager; prints the expected final state of its own accounts as JSON.
//   settings <settingsPath> <worker> <count>  our footer key through saveMultiCodexSettings.
//   pi-settings <agentDir> <worker> <count>  keys of its own through pi's own settings lock.
import { writeSync } from "node:fs";
import { join } from "node:path";
import { createPrng } from "./prng.ts";

// Each mode imports only what it needs.

/** Workers are started in the repository (see workers.ts). */
const REPO = process.cwd();

function say(line: string): void {
	writeSync(1, `${line}\n`);
}

function waitForGo(): Promise<void> {
	return new Promise((resolvePromise) => {
		let buffer = "";
		process.stdin.setEncoding("utf8");
		process.stdin.on("data", (chunk: string) => {
			buffer += chunk;
			if (buffer.includes("go")) {
				process.stdin.pause();
				resolvePromise();
			}
		});
	});
}

export interface ExpectedAccount {
	accessToken: string;
	refreshToken: string;
	expiresAt: number;
	quotaExhaustedUntil?: number;
}

export interface ChangesReport {
	worker: number;
	ops: Record<string, number>;
	accounts: Record<string, ExpectedAccount>;
	sharedCooldown: number;
}

export const SHARED_ACCOUNT = "shared@sim.test";

async function runChanges(agentDir: string, worker: number, count: number, seed: number) {
	const { AccountManager } = await import("../../account-manager.ts");
	const { AccountStore } = await import("../../storage.ts");
	const manager = new AccountManager({
		store: new AccountStore({ path: () => join(agentDir, "codex-accounts.json") }),
		fetchUsage: async () => {
			throw new Error("no usage requests in this test");
		},
		refreshToken: async () => {
			throw new Error("no refresh in this test");
		},
		loadPiAuth: async () => undefined,
	});
	const random = createPrng(seed);
	const expected = new Map<string, ExpectedAccount>();
	const ops: Record<string, number> = { add: 0, update: 0, cooldown: 0, remove: 0, shared: 0 };
	let sharedCooldown = 0;
	let serial = 0;
	const credentials = (email: string, version: number) => ({
		access: `access-${email}-v${version}-${"x".repeat(8)}`,
		refresh: `refresh-${email}-v${version}-${"y".repeat(8)}`,
		expires: 1_900_000_000_000 + version,
	});
	say("ready");
	await waitForGo();
	for (let i = 0; i < count; i++) {
		const mine = [...expected.keys()];
		const roll = random.next();
		if (mine.length === 0 || roll < 0.3) {
			const email = `w${worker}-${serial++}@sim.test`;
			const creds = credentials(email, 0);
			manager.addOrUpdateAccount(email, creds);
			expected.set(email, {
				accessToken: creds.access,
				refreshToken: creds.refresh,
				expiresAt: creds.expires,
			});
			ops.add = (ops.add ?? 0) + 1;
		} else if (roll < 0.55) {
			const email = random.pick(mine);
			const creds = credentials(email, i + 1);
			manager.addOrUpdateAccount(email, creds);
			const entry = expected.get(email) as ExpectedAccount;
			entry.accessToken = creds.access;
			entry.refreshToken = creds.refresh;
			entry.expiresAt = creds.expires;
			ops.update = (ops.update ?? 0) + 1;
		} else if (roll < 0.75) {
			const email = random.pick(mine);
			const until = 1_900_000_000_000 + random.int(1, 1_000_000);
			manager.markExhausted(email, until);
			const entry = expected.get(email) as ExpectedAccount;
			entry.quotaExhaustedUntil = Math.max(entry.quotaExhaustedUntil ?? 0, until);
			ops.cooldown = (ops.cooldown ?? 0) + 1;
		} else if (roll < 0.9) {
			const email = random.pick(mine);
			if (!manager.removeAccount(email)) throw new Error(`worker ${worker}: ${email} not found`);
			expected.delete(email);
			ops.remove = (ops.remove ?? 0) + 1;
		} else {
			// A change of one account every writer touches: the latest cooldown must win (max).
			const until = 1_900_000_000_000 + random.int(1, 1_000_000);
			manager.markExhausted(SHARED_ACCOUNT, until);
			sharedCooldown = Math.max(sharedCooldown, until);
			ops.shared = (ops.shared ?? 0) + 1;
		}
	}
	const report: ChangesReport = {
		worker,
		ops,
		accounts: Object.fromEntries(expected),
		sharedCooldown,
	};
	say(`report ${JSON.stringify(report)}`);
}

async function runSettings(settingsPath: string, worker: number, count: number) {
	const { saveMultiCodexSettings } = await import("../../footer-settings.ts");
	say("ready");
	await waitForGo();
	// Paced like a person changing footer settings quickly, not a tight loop that would starve
	// pi's own writer (pi retries its settings lock for 200 ms only).
	const pause = new Int32Array(new SharedArrayBuffer(4));
	for (let i = 1; i <= count; i++) {
		saveMultiCodexSettings({ [`worker${worker}`]: i }, settingsPath);
		Atomics.wait(pause, 0, 0, 5 + ((i * 7 + worker * 3) % 10));
	}
	say("done");
}

async function runPiSettings(agentDir: string, worker: number, count: number) {
	const modulePath = join(
		REPO,
		"node_modules/@mariozechner/pi-coding-agent/dist/core/settings-manager.js",
	);
	const { FileSettingsStorage } = (await import(modulePath)) as {
		FileSettingsStorage: new (
			cwd: string,
			agentDir: string,
		) => {
			withLock(scope: "global", fn: (current: string | undefined) => string | undefined): void;
		};
	};
	const storage = new FileSettingsStorage(agentDir, agentDir);
	say("ready");
	await waitForGo();
	const written: number[] = [];
	for (let i = 0; i < count; i++) {
		try {
			storage.withLock("global", (current) => {
				const settings = current ? JSON.parse(current) : {};
				settings[`pi-key-${worker}-${i}`] = i;
				return JSON.stringify(settings, null, 2);
			});
			written.push(i);
		} catch (error) {
			// pi gives up after 200 ms of contention; what matters is that what it wrote stays.
			if ((error as { code?: string }).code !== "ELOCKED") throw error;
		}
	}
	say(`done ${JSON.stringify(written)}`);
}

function main(): Promise<void> {
	const [mode, ...args] = process.argv.slice(2);
	if (mode === "changes") {
		return runChanges(args[0] as string, Number(args[1]), Number(args[2]), Number(args[3]));
	}
	if (mode === "settings") return runSettings(args[0] as string, Number(args[1]), Number(args[2]));
	if (mode === "pi-settings") {
		return runPiSettings(args[0] as string, Number(args[1]), Number(args[2]));
	}
	return Promise.reject(new Error(`unknown mode ${mode}`));
}

// Imported by the tests for its types and constants: only run as a script (bundled, see
// workers.ts).
if (process.argv[1]?.endsWith("store-worker.cjs")) {
	main().then(
		() => process.exit(0),
		(error: unknown) => {
			process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : error}\n`);
			process.exit(1);
		},
	);
}
