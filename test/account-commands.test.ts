// SPEC A8: the account subcommands with a fake ctx and account manager: identifiers matched
// without regard to case, the panel loop in the TUI (custom component built, keys pressed,
// reopened after a change), removal with a confirm, and A8's lines in RPC mode (notifications,
// no dialogs except for logins) and in print mode (stderr).
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { findAccount, runAccounts, runReauth, runRefresh, runShow } from "../account-commands.ts";
import type { AccountManager } from "../account-manager.ts";
import { describeNowUsing } from "../account-status.ts";
import type { CommandDeps } from "../command-output.ts";
import type { Account } from "../storage.ts";

vi.mock("../login.ts", () => ({ loginAccount: vi.fn(async () => undefined) }));

const FAR = Date.now() + 86_400_000;

function acct(email: string, extra: Partial<Account> = {}): Account {
	return { email, accessToken: "at", refreshToken: "rt", expiresAt: FAR, ...extra };
}

let accounts: Account[];
let manual: string | undefined;
let piAuth: string | undefined;
let notes: [string, string][];
let confirms: string[];
let confirmAnswers: boolean[];
let keysToPress: string[][];
let panelsShown: string[][];
let dialogs: string[];
let manager: AccountManager;
let deps: CommandDeps;

function makeManager(): AccountManager {
	const find = (email: string) => accounts.find((a) => a.email === email);
	return {
		getAccounts: () => accounts,
		getAccount: find,
		getActiveAccount: () => (manual ? find(manual) : accounts[0]),
		getManualAccount: () => (manual ? find(manual) : undefined),
		isPiAuthAccount: (a: Account) => a.email === piAuth,
		getCachedUsage: () => undefined,
		getAccountsNeedingReauth: () => accounts.filter((a) => a.needsReauth),
		ensureValidToken: vi.fn(async (a: Account) => {
			if (a.needsReauth) throw new Error(`${a.email}: re-authentication required`);
			return "at";
		}),
		refreshUsageForAccount: vi.fn(async () => undefined),
		refreshUsageForAllAccounts: vi.fn(async () => {}),
		refreshUsageIfStale: vi.fn(async () => {}),
		setManualAccount: vi.fn((email: string) => {
			manual = email;
		}),
		removeAccount: vi.fn((email: string) => {
			accounts = accounts.filter((a) => a.email !== email);
			return true;
		}),
		onStateChange: () => () => {},
		redact: (m: string) => m,
	} as unknown as AccountManager;
}

type Mode = "tui" | "rpc" | "print";

/**
 * A ctx of the given mode (named as pi 1.x's `ctx.mode`). In the TUI custom() builds the
 * component and presses the next batch of keys on it; elsewhere it answers undefined without
 * building it, as RPC mode does (`buildsPanels` overrides that). select/input are recorded.
 */
function fakeCtx(mode: Mode = "tui", buildsPanels = mode === "tui") {
	const plain = { fg: (_c: string, t: string) => t, bold: (t: string) => t };
	const KEYS: Record<string, string> = {
		"tui.select.down": "DOWN",
		"tui.select.cancel": "ESC",
		"tui.select.confirm": "ENTER",
	};
	const keybindings = { matches: (data: string, id: string) => KEYS[id] === data };
	return {
		hasUI: mode !== "print",
		mode,
		ui: {
			notify: (m: string, level: string) => notes.push([m, level]),
			confirm: async (_title: string, message: string) => {
				confirms.push(message);
				return confirmAnswers.shift() ?? true;
			},
			select: async (title: string) => {
				dialogs.push(`select ${title}`);
				return undefined;
			},
			input: async (title: string) => {
				dialogs.push(`input ${title}`);
				return undefined;
			},
			custom: async (
				factory: (...args: unknown[]) => {
					render(w: number): string[];
					handleInput(d: string): void;
				},
			) => {
				if (!buildsPanels) return undefined;
				return new Promise((resolve) => {
					const component = factory({ requestRender: () => {} }, plain, keybindings, resolve);
					panelsShown.push(component.render(100));
					for (const key of keysToPress.shift() ?? ["ESC"]) component.handleInput(key);
				});
			},
		},
	} as never;
}

beforeEach(() => {
	accounts = [acct("a@x.com"), acct("Bob"), acct("c@x.com", { needsReauth: true })];
	manual = undefined;
	piAuth = undefined;
	notes = [];
	confirms = [];
	confirmAnswers = [];
	keysToPress = [];
	panelsShown = [];
	dialogs = [];
	manager = makeManager();
	deps = {
		pi: {},
		accountManager: manager,
		statusController: {
			refreshFor: vi.fn(async () => {}),
			getPreferences: () => ({ usageMode: "left" }),
		},
	} as unknown as CommandDeps;
});

afterEach(() => {
	vi.restoreAllMocks();
});

describe("findAccount", () => {
	it("matches exactly, else the only account equal ignoring case", () => {
		expect(findAccount(manager, "Bob")?.email).toBe("Bob");
		expect(findAccount(manager, "A@X.COM")?.email).toBe("a@x.com");
		expect(findAccount(manager, "nobody")).toBeUndefined();
		accounts.push(acct("A@x.com"));
		expect(findAccount(manager, "a@X.com")).toBeUndefined();
	});
});

describe("the account panel in the TUI", () => {
	it("uses the selected account and closes", async () => {
		keysToPress = [["DOWN", "ENTER"]];
		await runAccounts(fakeCtx(), deps, "");
		expect(notes).toEqual([["Now using Bob", "info"]]);
		expect(manual).toBe("Bob");
		expect(panelsShown).toHaveLength(1);
	});

	it("refreshes, then comes back on the same account with fresh data", async () => {
		keysToPress = [["DOWN", "u"], ["ESC"]];
		await runShow(fakeCtx(), deps);
		expect(manager.refreshUsageForAccount).toHaveBeenCalledWith(accounts[1], { force: true });
		expect(notes).toEqual([
			["refreshed Bob - 5h unknown reset:unknown | weekly unknown reset:unknown", "info"],
		]);
		expect(panelsShown).toHaveLength(2);
		expect(panelsShown[1]).toContain("> Bob");
	});

	it("asks before removing, saying when the account is active", async () => {
		keysToPress = [["\x7f"], ["DOWN", "\x7f"], ["ESC"]];
		confirmAnswers = [false, true];
		await runAccounts(fakeCtx(), deps, "");
		expect(confirms).toEqual([
			"Remove a@x.com? This account is currently active and MultiCodex will switch to another account.",
			"Remove Bob?",
		]);
		expect(accounts.map((a) => a.email)).toEqual(["a@x.com", "c@x.com"]);
		expect(notes).toEqual([["Removed Bob", "info"]]);
		expect(panelsShown.at(-1)).toContain("2 accounts · 1 need reauth");
	});

	it("does not remove pi's own login", async () => {
		piAuth = "Bob";
		keysToPress = [["DOWN", "\x7f"], ["ESC"]];
		await runAccounts(fakeCtx(), deps, "");
		expect(confirms).toEqual([]);
		expect(manager.removeAccount).not.toHaveBeenCalled();
		expect(notes[0]?.[0]).toMatch(/^Bob is pi's own login \(auth\.json\).*\/logout/);
	});

	it("a broken stored login warns and starts a login", async () => {
		const { loginAccount } = await import("../login.ts");
		await runAccounts(fakeCtx(), deps, "c@x.com");
		expect(notes).toEqual([
			[
				"Stored login for c@x.com no longer works (c@x.com: re-authentication required). Starting login again.",
				"warning",
			],
		]);
		expect(loginAccount).toHaveBeenCalledWith(expect.anything(), deps, "c@x.com");
	});

	it("an account whose plan had no Codex is logged in again, not just pinned", async () => {
		const { loginAccount } = await import("../login.ts");
		accounts.push(acct("d@x.com", { codexNotIncluded: true }));
		await runAccounts(fakeCtx(), deps, "d@x.com");
		expect(notes).toEqual([
			[
				"d@x.com cannot use Codex (its ChatGPT plan did not include it). Starting login again.",
				"warning",
			],
		]);
		expect(manager.setManualAccount).not.toHaveBeenCalled();
		expect(loginAccount).toHaveBeenCalledWith(expect.anything(), deps, "d@x.com");
	});
});

describe("in RPC mode (dialogs, no panels)", () => {
	const LINES = [
		"a@x.com (active) - 5h unknown reset:unknown | weekly unknown reset:unknown",
		"Bob - 5h unknown reset:unknown | weekly unknown reset:unknown",
		"c@x.com (needs reauth) - 5h unknown reset:unknown | weekly unknown reset:unknown",
	].join("\n");

	it.each([
		["accounts", () => runAccounts(fakeCtx("rpc"), deps, "")],
		["show", () => runShow(fakeCtx("rpc"), deps)],
	])("%s: one notification with a status line per account", async (_name, run) => {
		await run();
		expect(notes).toEqual([[LINES, "info"]]);
		expect(dialogs).toEqual([]);
		expect(panelsShown).toEqual([]);
	});

	it("without accounts: the no-accounts message, not the login", async () => {
		accounts = [];
		await runAccounts(fakeCtx("rpc"), deps, "");
		expect(notes).toEqual([
			[
				"No Multicodex accounts yet. Add one with /multicodex use <identifier> (opens the OpenAI login).",
				"warning",
			],
		]);
		expect(dialogs).toEqual([]);
	});

	it("refresh without an argument refreshes all", async () => {
		await runRefresh(fakeCtx("rpc"), deps, "");
		expect(manager.refreshUsageForAllAccounts).toHaveBeenCalledWith({ force: true });
		expect(notes).toEqual([["refreshed 3 account(s); reauth needed=1", "warning"]]);
		expect(dialogs).toEqual([]);
	});

	it("refresh <id> says the refreshed status line", async () => {
		await runRefresh(fakeCtx("rpc"), deps, "bob");
		expect(notes).toEqual([
			["refreshed Bob - 5h unknown reset:unknown | weekly unknown reset:unknown", "info"],
		]);
	});

	it("reauth without an id logs the active account in again", async () => {
		const { loginAccount } = await import("../login.ts");
		manual = "Bob";
		await runReauth(fakeCtx("rpc"), deps, "");
		expect(loginAccount).toHaveBeenCalledWith(expect.anything(), deps, "Bob");
		expect(dialogs).toEqual([]);
	});

	it("the TUI prints the lines too should pi not build the panel", async () => {
		await runShow(fakeCtx("tui", false), deps);
		expect(notes).toEqual([[LINES, "info"]]);
		expect(dialogs).toEqual([]);
	});
});

describe("without a UI", () => {
	it("prints one status line per account", async () => {
		const write = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
		await runAccounts(fakeCtx("print"), deps, "");
		expect(write).toHaveBeenCalledWith(
			[
				"a@x.com (active) - 5h unknown reset:unknown | weekly unknown reset:unknown",
				"Bob - 5h unknown reset:unknown | weekly unknown reset:unknown",
				"c@x.com (needs reauth) - 5h unknown reset:unknown | weekly unknown reset:unknown",
				"",
			].join("\n"),
		);
	});

	it("refresh without an argument refreshes all", async () => {
		const write = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
		await runRefresh(fakeCtx("print"), deps, "");
		expect(manager.refreshUsageForAllAccounts).toHaveBeenCalledWith({ force: true });
		expect(write).toHaveBeenCalledWith("refreshed 3 account(s); reauth needed=1\n");
	});

	it("says how to add an account when there is none", async () => {
		accounts = [];
		const write = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
		await runShow(fakeCtx("print"), deps);
		expect(write).toHaveBeenCalledWith(
			"No Multicodex accounts yet. Add one with /multicodex use <identifier> (opens the OpenAI login).\n",
		);
	});
});

describe("using an account that is out of quota (A8)", () => {
	const MINUTE = 60_000;
	const clock = (at: number) => {
		const date = new Date(at);
		return `${String(date.getHours()).padStart(2, "0")}:${String(date.getMinutes()).padStart(2, "0")}`;
	};

	it("says when it is back and that requests go elsewhere until then", async () => {
		const until = Date.now() + 40 * MINUTE;
		accounts.push(acct("tired@x.com", { quotaExhaustedUntil: until }));
		await runAccounts(fakeCtx("rpc"), deps, "tired@x.com");
		expect(manual).toBe("tired@x.com");
		expect(notes).toEqual([
			[
				`Now using tired@x.com (out of quota until ${clock(until)}, in 40m: a request before then goes to another account and ends this pick)`,
				"warning",
			],
		]);
	});

	it("says so from the panel too (enter)", async () => {
		accounts = [acct("tired@x.com", { quotaExhaustedUntil: Date.now() + 3 * 60 * MINUTE })];
		keysToPress = [["ENTER"]];
		await runAccounts(fakeCtx(), deps, "");
		expect(notes).toEqual([
			[
				expect.stringMatching(/^Now using tired@x\.com \(out of quota until \d\d:\d\d, in 3h: /),
				"warning",
			],
		]);
	});

	it("keeps A8's plain line once the cooldown has passed", async () => {
		accounts.push(acct("rested@x.com", { quotaExhaustedUntil: Date.now() - 1 }));
		await runAccounts(fakeCtx("rpc"), deps, "rested@x.com");
		expect(notes).toEqual([["Now using rested@x.com", "info"]]);
	});
});

describe("describeNowUsing", () => {
	it("gives the date as well when the account is back only after a day", () => {
		const now = new Date(2026, 0, 1, 12, 0).getTime();
		const until = new Date(2026, 0, 3, 9, 5).getTime();
		expect(describeNowUsing(acct("x", { quotaExhaustedUntil: until }), now)).toBe(
			"Now using x (out of quota until 2026-01-03 09:05, in 45h: a request before then goes to another account and ends this pick)",
		);
	});
});
