// SPEC B7/B8 with real processes on one agent dir: many writers lose no change, a writer killed
// at any moment leaves a file that parses and keeps every account, pi's settings keys survive
// our writes (and ours survive pi's), and a lock left by a killed process is taken over at once.
import { spawn, spawnSync } from "node:child_process";
import {
	existsSync,
	lstatSync,
	mkdirSync,
	mkdtempSync,
	readdirSync,
	readFileSync,
	rmSync,
	statSync,
	symlinkSync,
	writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import properLockfile from "proper-lockfile";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withFileLock, withFileLockSync } from "../file-lock.ts";
import { AccountStore, migrateStorage, type StorageData, serializeStorage } from "../storage.ts";
import { createPrng } from "./support/prng.ts";
import { type ChangesReport, SHARED_ACCOUNT } from "./support/store-worker.ts";
import {
	bundleWorkers,
	startNode22,
	startWorker,
	type WorkerBundle,
	type WorkerProcess,
} from "./support/workers.ts";

const require = createRequire(import.meta.url);
const dirs: string[] = [];
function tempDir(): string {
	const dir = mkdtempSync(join(tmpdir(), "multicodex-concurrency-"));
	dirs.push(dir);
	return dir;
}

let bundle: WorkerBundle;

beforeAll(async () => {
	bundle = await bundleWorkers(tempDir());
});

afterAll(() => {
	for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function readStorage(file: string): StorageData {
	const migrated = migrateStorage(JSON.parse(readFileSync(file, "utf8")));
	expect(migrated.salvaged).toBe(false);
	return migrated.data;
}

function seedAccount(email: string) {
	return {
		email,
		accessToken: `access-${email}-seed`,
		refreshToken: `refresh-${email}-seed`,
		expiresAt: 1_900_000_000_000,
	};
}

describe("many writers on one accounts file", () => {
	it("8 processes × 50 random changes through AccountManager: no change is lost", async () => {
		const agentDir = tempDir();
		const file = join(agentDir, "codex-accounts.json");
		writeFileSync(file, serializeStorage({ version: 1, accounts: [seedAccount(SHARED_ACCOUNT)] }), {
			mode: 0o600,
		});
		const workers = Array.from({ length: 8 }, (_, worker) =>
			startWorker(bundle, ["changes", agentDir, String(worker), "50", String(1000 + worker)]),
		);
		await Promise.all(workers.map((w) => w.waitForLine((line) => line === "ready", 60_000)));
		const started = Date.now();
		for (const worker of workers) worker.go();
		const reports = await Promise.all(
			workers.map(async (w) => {
				const line = await w.waitForLine((l) => l.startsWith("report "), 60_000);
				return JSON.parse(line.slice("report ".length)) as ChangesReport;
			}),
		);
		const elapsed = Date.now() - started;
		await Promise.all(workers.map((w) => w.exited));

		const stored = readStorage(file);
		const byEmail = new Map(stored.accounts.map((a) => [a.email, a]));
		const expectedEmails = new Set([SHARED_ACCOUNT]);
		let totalOps = 0;
		for (const report of reports) {
			totalOps += Object.values(report.ops).reduce((sum, n) => sum + n, 0);
			for (const [email, expected] of Object.entries(report.accounts)) {
				expectedEmails.add(email);
				const actual = byEmail.get(email);
				expect(actual, `${email} of worker ${report.worker}`).toBeDefined();
				expect(actual?.accessToken).toBe(expected.accessToken);
				expect(actual?.refreshToken).toBe(expected.refreshToken);
				expect(actual?.expiresAt).toBe(expected.expiresAt);
				expect(actual?.quotaExhaustedUntil).toBe(expected.quotaExhaustedUntil);
			}
		}
		// Removed accounts stay removed, and nothing else appeared.
		expect([...byEmail.keys()].sort()).toEqual([...expectedEmails].sort());
		const sharedMax = Math.max(...reports.map((r) => r.sharedCooldown));
		expect(byEmail.get(SHARED_ACCOUNT)?.quotaExhaustedUntil ?? 0).toBe(sharedMax);
		expect(totalOps).toBe(8 * 50);
		// Every kind of change really happened.
		for (const kind of ["add", "update", "cooldown", "remove", "shared"]) {
			expect(reports.reduce((sum, r) => sum + (r.ops[kind] ?? 0), 0)).toBeGreaterThan(0);
		}
		console.info(`8 × 50 changes in ${elapsed} ms, ${stored.accounts.length} accounts at the end`);
	}, 120_000);

	it("a writer killed with SIGKILL at a random moment, 100 times: the file always parses, no account is lost", async () => {
		const dir = tempDir();
		const file = join(dir, "codex-accounts.json");
		const seeds = ["keep-1@sim.test", "keep-2@sim.test", "keep-3@sim.test"];
		writeFileSync(file, serializeStorage({ version: 1, accounts: seeds.map(seedAccount) }), {
			mode: 0o600,
		});
		const random = createPrng(20_260_707);
		const acked = new Set<string>();
		const LANES = 3;
		const KILLS = 100;
		let kills = 0;
		let killedBeforeFirstAck = 0;
		const started = Date.now();

		const checkFile = () => {
			const stored = readStorage(file);
			const emails = new Set(stored.accounts.map((a) => a.email));
			for (const email of [...seeds, ...acked]) {
				if (!emails.has(email)) throw new Error(`lost ${email} after ${kills} kills`);
			}
			return stored;
		};

		const startWriter = (index: number) =>
			startNode22([bundle.killableWriter, file, String(index)]);
		const lane = async (index: number) => {
			// The next writer starts while the current one works, so start-up costs no time.
			let next: WorkerProcess = startWriter(index);
			while (kills < KILLS) {
				kills++;
				const writer = next;
				next = startWriter(index);
				await writer.waitForLine((line) => line === "ready", 30_000);
				writer.go();
				// Killed after 0 to 3 committed writes (whatever the machine's speed), at a random
				// moment of the next one: waiting for the lock, writing, renaming or releasing.
				const afterWrites = random.int(0, 3);
				if (afterWrites > 0) {
					await writer.waitForLine(
						(line) => line.startsWith("ack ") && line.endsWith(`-${afterWrites - 1}@sim.test`),
						30_000,
					);
				}
				await new Promise((r) => setTimeout(r, random.int(0, 25)));
				writer.child.kill("SIGKILL");
				await writer.exited;
				const before = acked.size;
				for (const line of writer.lines) {
					if (line.startsWith("ack ")) acked.add(line.slice(4));
				}
				if (acked.size === before) killedBeforeFirstAck++;
				checkFile();
			}
			next.child.kill("SIGKILL");
			await next.exited;
		};
		await Promise.all(Array.from({ length: LANES }, (_, i) => lane(i)));
		const elapsed = Date.now() - started;

		const stored = checkFile();
		// At most one unacknowledged add per killed writer made it to disk before the kill.
		expect(stored.accounts.length).toBeGreaterThanOrEqual(seeds.length + acked.size);
		expect(stored.accounts.length).toBeLessThanOrEqual(seeds.length + acked.size + KILLS);
		expect(acked.size).toBeGreaterThan(0);
		// The next write clears what killed writers left behind: temp files and locks.
		new AccountStore({ path: () => file }).update((data) => {
			data.activeEmail = seeds[0];
		});
		const leftovers = readdirSync(dir).filter((name) => name !== "codex-accounts.json");
		expect(leftovers).toEqual([]);
		console.info(
			`${kills} kills in ${elapsed} ms; ${acked.size} acknowledged adds, ` +
				`${killedBeforeFirstAck} writers killed before their first acknowledged write`,
		);
	}, 120_000);
});

describe("our key in pi's settings.json", () => {
	it("our writers and pi's own writers on settings.json keep every key of each other", async () => {
		const agentDir = tempDir();
		const settingsPath = join(agentDir, "settings.json");
		writeFileSync(settingsPath, JSON.stringify({ defaultProvider: "openai-codex" }, null, 2));
		const ours = [0, 1, 2].map((w) =>
			startWorker(bundle, ["settings", settingsPath, String(w), "30"]),
		);
		const pis = [0, 1].map((w) => startWorker(bundle, ["pi-settings", agentDir, String(w), "30"]));
		const all = [...ours, ...pis];
		await Promise.all(all.map((w) => w.waitForLine((line) => line === "ready", 60_000)));
		for (const worker of all) worker.go();
		await Promise.all(ours.map((w) => w.waitForLine((line) => line === "done", 60_000)));
		const piWrites = await Promise.all(
			pis.map(async (w) => {
				const line = await w.waitForLine((l) => l.startsWith("done "), 60_000);
				return JSON.parse(line.slice("done ".length)) as number[];
			}),
		);
		const settings = JSON.parse(readFileSync(settingsPath, "utf8")) as Record<string, unknown>;
		expect(settings.defaultProvider).toBe("openai-codex");
		for (const [w, written] of piWrites.entries()) {
			expect(written.length).toBeGreaterThan(20);
			for (const i of written) expect(settings[`pi-key-${w}-${i}`]).toBe(i);
		}
		expect(settings["pi-multicodex"]).toEqual({ worker0: 30, worker1: 30, worker2: 30 });
	}, 60_000);
});

describe("private atomic writes", () => {
	it("creates a missing folder 0700 and the file 0600, and writes through a symlink", () => {
		const root = tempDir();
		const agentDir = join(root, "new-agent-dir");
		const file = join(agentDir, "codex-accounts.json");
		new AccountStore({ path: () => file }).update((data) => {
			data.accounts.push(seedAccount("a@sim.test"));
		});
		expect(statSync(agentDir).mode & 0o777).toBe(0o700);
		expect(statSync(file).mode & 0o777).toBe(0o600);

		// A dotfiles setup may link the file elsewhere: the link stays a link.
		const target = join(root, "dotfiles-accounts.json");
		const linked = join(root, "linked-accounts.json");
		writeFileSync(target, serializeStorage({ version: 1, accounts: [] }), { mode: 0o644 });
		symlinkSync(target, linked);
		new AccountStore({ path: () => linked }).update((data) => {
			data.accounts.push(seedAccount("b@sim.test"));
		});
		expect(lstatSync(linked).isSymbolicLink()).toBe(true);
		expect(readStorage(target).accounts.map((a) => a.email)).toEqual(["b@sim.test"]);
		expect(statSync(target).mode & 0o777).toBe(0o600);
	});

	it("never writes over a file it cannot read, and says what to do", () => {
		const dir = tempDir();
		const file = join(dir, "codex-accounts.json");
		mkdirSync(file); // reading fails with EISDIR, like a permission error would
		const store = new AccountStore({ path: () => file });
		expect(() => store.load()).toThrow(/Cannot read .*codex-accounts\.json.*nothing was changed/);
		expect(() =>
			store.update((data) => {
				data.accounts.push(seedAccount("a@sim.test"));
			}),
		).toThrow(/nothing was changed/);
		expect(statSync(file).isDirectory()).toBe(true);
		expect(readdirSync(dir).filter((n) => n !== "codex-accounts.json")).toEqual([]);
	});

	it("removes temp files that killed writers left, and only theirs", () => {
		const dir = tempDir();
		const file = join(dir, "codex-accounts.json");
		const deadPid = spawnSync(process.execPath, [
			"-e",
			"process.stdout.write(String(process.pid))",
		]).stdout.toString();
		const orphan = join(dir, `.codex-accounts.json.${deadPid}.abc.tmp`);
		const live = join(dir, `.codex-accounts.json.${process.ppid}.def.tmp`);
		writeFileSync(orphan, "half a file");
		writeFileSync(live, "another writer at work");
		new AccountStore({ path: () => file }).update((data) => {
			data.accounts.push(seedAccount("a@sim.test"));
		});
		expect(existsSync(orphan)).toBe(false);
		expect(existsSync(live)).toBe(true);
	});
});

describe("one lock protocol with proper-lockfile", () => {
	// A free lock is taken with one mkdir, without loading proper-lockfile (start-up time); it must
	// still be the lock pi's and our proper-lockfile users see, and wait for theirs.
	it("a lock taken while free is seen as held by proper-lockfile, and gone after", () => {
		for (const recordOwner of [false, true]) {
			const file = join(tempDir(), "codex-accounts.json");
			writeFileSync(file, "{}");
			const seenInside = withFileLockSync(
				file,
				() => ({
					locked: properLockfile.checkSync(file, { realpath: false, stale: 30_000 }),
					tryLock: (() => {
						try {
							properLockfile.lockSync(file, { realpath: false, stale: 30_000 })();
							return "taken";
						} catch (error) {
							return (error as NodeJS.ErrnoException).code;
						}
					})(),
				}),
				{ recordOwner },
			);
			expect(seenInside).toEqual({ locked: true, tryLock: "ELOCKED" });
			expect(properLockfile.checkSync(file, { realpath: false, stale: 30_000 })).toBe(false);
			expect(existsSync(`${file}.lock`)).toBe(false);
		}
	});

	it("waits while another process holds the lock with proper-lockfile, then takes it", async () => {
		const file = join(tempDir(), "settings.json");
		writeFileSync(file, "{}");
		const holder = spawn(
			process.execPath,
			[
				"-e",
				`const lockfile = require(${JSON.stringify(require.resolve("proper-lockfile"))});
				const release = lockfile.lockSync(${JSON.stringify(file)}, { realpath: false, stale: 30000 });
				process.stdout.write("locked\\n");
				setTimeout(() => { release(); process.stdout.write("released\\n"); }, 400);`,
			],
			{ stdio: ["ignore", "pipe", "inherit"] },
		);
		let out = "";
		await new Promise<void>((resolve) =>
			holder.stdout.on("data", (chunk) => {
				out += chunk;
				if (out.includes("locked")) resolve();
			}),
		);
		const started = Date.now();
		withFileLockSync(file, () => undefined);
		const waited = Date.now() - started;
		await new Promise((resolve) => holder.on("close", resolve));
		expect(out).toContain("released");
		expect(waited).toBeGreaterThanOrEqual(250);
		expect(existsSync(`${file}.lock`)).toBe(false);
	});
});

describe("locks left behind", () => {
	function deadPid(): number {
		const result = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]);
		return Number(result.stdout.toString());
	}

	function leaveLock(path: string, owner?: { pid: number; host: string }) {
		mkdirSync(`${path}.lock`);
		if (owner) writeFileSync(join(`${path}.lock`, "owner.json"), JSON.stringify(owner));
	}

	it("takes over at once a lock whose owner process was killed", async () => {
		const { hostname } = await import("node:os");
		const file = join(tempDir(), "codex-accounts.json");
		leaveLock(file, { pid: deadPid(), host: hostname() });
		const started = Date.now();
		const value = withFileLockSync(file, () => 42, { recordOwner: true });
		expect(value).toBe(42);
		expect(Date.now() - started).toBeLessThan(1000);
		expect(existsSync(`${file}.lock`)).toBe(false);
	});

	it("waits for a lock whose owner still runs, and then says who to ask", async () => {
		const { hostname } = await import("node:os");
		const file = join(tempDir(), "codex-accounts.json");
		leaveLock(file, { pid: process.ppid, host: hostname() });
		await expect(
			withFileLock(file, async () => 1, { recordOwner: true, timeoutMs: 300 }),
		).rejects.toThrow(/another pi process holds it\. If no other pi is running, remove .*\.lock/);
		expect(existsSync(`${file}.lock`)).toBe(true);
	});

	it("never breaks a plain lock (pi's own settings lock has no owner record)", async () => {
		const file = join(tempDir(), "settings.json");
		leaveLock(file);
		await expect(withFileLock(file, async () => 1, { timeoutMs: 200 })).rejects.toThrow(
			/Could not lock/,
		);
	});
});
