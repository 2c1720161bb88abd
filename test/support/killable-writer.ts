// The writer the SIGKILL test kills (test/concurrency.test.ts): on `go`, endless small updates
// of one accounts file through AccountStore. After each committed update it prints `ack <email>`, so
// the test knows which accounts must survive. The test bundles this file (esbuild) so that each
// of the hundred writers starts in a few dozen milliseconds.
import { writeSync } from "node:fs";
import { AccountStore } from "../../storage.ts";

const [file, lane] = process.argv.slice(2);
if (!file) throw new Error("usage: killable-writer <accounts file> <lane>");
const store = new AccountStore({ path: () => file });
writeSync(1, "ready\n");
// Started ahead of time by the test; the work starts on `go`.
process.stdin.once("data", () => {
	process.stdin.pause();
	writeForever();
});

function writeForever(): never {
	for (let n = 0; ; n++) {
		writeOne(n);
	}
}

function writeOne(n: number): void {
	const email = `lane${lane}-${process.pid}-${n}@sim.test`;
	store.update((data) => {
		data.accounts.push({
			email,
			accessToken: `access-${email}-${"a".repeat(200)}`,
			refreshToken: `refresh-${email}`,
			expiresAt: 1_900_000_000_000,
		});
		// Touch every account, so each write rewrites the whole file.
		for (const account of data.accounts) account.lastUsed = n;
		data.activeEmail = email;
	});
	writeSync(1, `ack ${email}\n`);
}
