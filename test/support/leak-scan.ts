// Collects everything a test captured (stdout, stderr, RPC events, notifications, error
// messages, files an agent dir holds besides the credential stores) and scans it for any token
// the simulated backend issued. A finding names the token kind and where it was seen, never the
// token itself.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { allIssuedTokens, findLeakedTokens } from "./sim-tokens.ts";

/** Files that are meant to hold tokens: the credential stores and byte copies of them. */
const CREDENTIAL_STORE =
	/^(?:codex-accounts\.json(?:\.damaged-.*)?|auth\.json|\.codex-accounts\.json\..*\.tmp|\.auth\.json\..*)$/;

export class CapturedOutput {
	private readonly texts: { where: string; text: string }[] = [];
	private readonly agentDirs = new Set<string>();

	add(where: string, text: string | undefined): void {
		if (text) this.texts.push({ where, text });
	}

	addJson(where: string, value: unknown): void {
		this.add(where, JSON.stringify(value));
	}

	/** Every file in the dir is scanned at the end, except the credential stores. */
	addAgentDir(agentDir: string): void {
		this.agentDirs.add(agentDir);
	}

	/** How many texts and files were scanned, for the test's own report. */
	get size(): number {
		return this.texts.length;
	}

	/** `kind token #n in <where>` for every issued token found; empty when clean. */
	findLeaks(tokens: string[] = allIssuedTokens()): string[] {
		const found: string[] = [];
		const scan = (where: string, text: string) => {
			for (const leak of findLeakedTokens(text, tokens)) found.push(`${leak} in ${where}`);
		};
		for (const { where, text } of this.texts) scan(where, text);
		for (const dir of this.agentDirs) {
			for (const file of listFiles(dir)) {
				const name = file.split("/").pop() ?? file;
				if (CREDENTIAL_STORE.test(name)) continue;
				scan(`${relative(dir, file)} (agent dir)`, readFileSync(file, "utf8"));
			}
		}
		return found;
	}

	/** Number of agent-dir files that were scanned (not counting the credential stores). */
	scannedFileCount(): number {
		let count = 0;
		for (const dir of this.agentDirs) {
			count += listFiles(dir).filter((f) => !CREDENTIAL_STORE.test(f.split("/").pop() ?? f)).length;
		}
		return count;
	}
}

function listFiles(dir: string): string[] {
	let names: string[];
	try {
		names = readdirSync(dir);
	} catch {
		return [];
	}
	const files: string[] = [];
	for (const name of names) {
		const path = join(dir, name);
		let isDir = false;
		try {
			isDir = statSync(path).isDirectory();
		} catch {
			continue;
		}
		if (isDir) files.push(...listFiles(path));
		else files.push(path);
	}
	return files;
}
