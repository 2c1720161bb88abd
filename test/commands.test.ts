// SPEC A8: parsing of `/multicodex` arguments, autocomplete, the main menu and routing of
// unknown or missing subcommands (fake pi and ctx; the subcommands themselves have their own
// tests and the e2e tests).
import { afterEach, describe, expect, it, vi } from "vitest";
import type { AccountManager } from "../account-manager.ts";
import {
	getCommandCompletions,
	HELP_TEXT,
	isSubcommand,
	MENU_ENTRIES,
	parseCommandArgs,
	registerCommands,
	SUBCOMMANDS,
} from "../commands.ts";
import type { UsageStatusController } from "../status.ts";

describe("parseCommandArgs", () => {
	it.each([
		["", { rest: "" }],
		["   ", { rest: "" }],
		["verify", { subcommand: "verify", rest: "" }],
		["  VERIFY  ", { subcommand: "verify", rest: "" }],
		["use A@x.com", { subcommand: "use", rest: "A@x.com" }],
		["use   OpenAI Codex 1234abcd  ", { subcommand: "use", rest: "OpenAI Codex 1234abcd" }],
		["reset\tquota", { subcommand: "reset", rest: "quota" }],
	])("%j", (args, expected) => {
		expect(parseCommandArgs(args)).toEqual(expected);
	});
});

describe("isSubcommand", () => {
	it("knows the eleven subcommands of A8 and nothing else", () => {
		expect(SUBCOMMANDS).toEqual([
			"accounts",
			"use",
			"show",
			"refresh",
			"reauth",
			"footer",
			"rotation",
			"verify",
			"path",
			"reset",
			"help",
		]);
		expect(isSubcommand("verify")).toBe(true);
		expect(isSubcommand("Verify")).toBe(false);
		expect(isSubcommand("login")).toBe(false);
	});
});

describe("getCommandCompletions", () => {
	const ids = ["a@x.com", "Alice", "b@x.com"];
	const values = (text: string) => getCommandCompletions(text, ids)?.map((i) => i.value) ?? null;

	it("lists every subcommand for an empty argument", () => {
		expect(values("")).toEqual([...SUBCOMMANDS]);
	});

	it("completes subcommand names, ignoring case", () => {
		expect(values("re")).toEqual(["refresh", "reauth", "reset"]);
		expect(values("RO")).toEqual(["rotation"]);
		expect(values("zz")).toBeNull();
	});

	it.each(["accounts", "use", "reauth"])("completes identifiers after %s", (sub) => {
		expect(values(`${sub} `)).toEqual(ids.map((id) => `${sub} ${id}`));
		expect(values(`${sub} a`)).toEqual([`${sub} a@x.com`, `${sub} Alice`]);
		expect(getCommandCompletions(`${sub} b`, ids)).toEqual([
			{ value: `${sub} b@x.com`, label: "b@x.com" },
		]);
	});

	it("completes all and identifiers after refresh", () => {
		expect(values("refresh ")).toEqual(["refresh all", ...ids.map((id) => `refresh ${id}`)]);
		expect(values("REFRESH al")).toEqual(["refresh all", "refresh Alice"]);
	});

	it("completes the targets after reset", () => {
		expect(values("reset ")).toEqual(["reset manual", "reset quota", "reset all"]);
		expect(values("reset q")).toEqual(["reset quota"]);
		expect(values("reset x")).toBeNull();
	});

	it("offers nothing after subcommands without arguments", () => {
		expect(values("verify ")).toBeNull();
		expect(values("footer x")).toBeNull();
	});

	it("lists an identifier once", () => {
		expect(getCommandCompletions("use ", ["a", "a"])).toHaveLength(1);
	});
});

describe("MENU_ENTRIES", () => {
	it("describes subcommands, each once", () => {
		const names = MENU_ENTRIES.map(([name]) => name);
		expect(new Set(names).size).toBe(names.length);
		for (const [name, description] of MENU_ENTRIES) {
			expect(isSubcommand(name)).toBe(true);
			expect(description.length).toBeGreaterThan(5);
		}
		expect(names).toEqual(
			expect.arrayContaining([
				"accounts",
				"refresh",
				"reauth",
				"footer",
				"verify",
				"reset",
				"help",
			]),
		);
	});
});

describe("the menu's reset entry", () => {
	it("names everything reset clears, the no-codex flags included", () => {
		const description = MENU_ENTRIES.find(([name]) => name === "reset")?.[1];
		expect(description).toBe("clear the manual pin, quota cooldowns or no-codex flags");
	});
});

describe("the /multicodex handler", () => {
	type Handler = (args: string, ctx: unknown) => Promise<void>;

	/** pi's modes as 1.x names them: the TUI, RPC (dialogs but no panels), print (no UI). */
	function setup(
		mode: "tui" | "rpc" | "print",
		select?: (title: string, options: string[]) => string | undefined,
	) {
		let handler: Handler | undefined;
		const pi = {
			registerCommand: (_name: string, options: { handler: Handler }) => {
				handler = options.handler;
			},
		};
		const accountManager = {
			getAccounts: () => [],
			redact: (message: string) => message,
		} as unknown as AccountManager;
		registerCommands(pi as never, accountManager, {} as UsageStatusController);
		const notes: [string, string][] = [];
		const selects: string[] = [];
		const ctx = {
			hasUI: mode !== "print",
			mode,
			ui: {
				notify: (message: string, level: string) => notes.push([message, level]),
				select: async (title: string, options: string[]) => {
					selects.push(title);
					return select?.(title, options);
				},
			},
		};
		return { run: (args: string) => handler?.(args, ctx), notes, selects };
	}

	afterEach(() => {
		vi.restoreAllMocks();
	});

	it("warns about an unknown subcommand and shows the help", async () => {
		const { run, notes } = setup("tui");
		await run("Frobnicate now");
		expect(notes).toEqual([
			["Unknown subcommand: Frobnicate", "warning"],
			[HELP_TEXT, "info"],
		]);
	});

	it("without a UI, asks for a subcommand on stderr", async () => {
		const write = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
		const { run, notes } = setup("print");
		await run("");
		expect(notes).toEqual([]);
		expect(write).toHaveBeenCalledWith(
			"/multicodex requires a subcommand in non-interactive mode. Use /multicodex help.\n",
		);
	});

	it("in RPC mode, asks for a subcommand in a notification instead of the menu", async () => {
		const { run, notes, selects } = setup("rpc", () => "help: command usage");
		await run("  ");
		expect(selects).toEqual([]);
		expect(notes).toEqual([
			[
				"/multicodex requires a subcommand in non-interactive mode. Use /multicodex help.",
				"warning",
			],
		]);
	});

	it("in the TUI, opens the menu and runs the chosen subcommand", async () => {
		const seen: string[][] = [];
		const { run, notes } = setup("tui", (title, options) => {
			seen.push([title, ...options]);
			return options.find((o) => o.startsWith("help:"));
		});
		await run("");
		expect(seen[0]?.[0]).toBe("MultiCodex");
		expect(seen[0]?.slice(1)).toEqual(MENU_ENTRIES.map(([n, d]) => `${n}: ${d}`));
		expect(notes).toEqual([[HELP_TEXT, "info"]]);
	});

	it("does nothing when the menu is closed", async () => {
		const { run, notes } = setup("tui", () => undefined);
		await run("");
		expect(notes).toEqual([]);
	});
});
