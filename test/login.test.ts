// SPEC A8 "Login" + issue 3: the browser command per platform, the refusal of a login already
// stored under another identifier, and the login flow around pi's OAuth (replaced by a fake
// here): URL shown, browser opened through pi.exec, pasted code asked, account stored and
// pinned, failures reported without tokens.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { CodexLoginCallbacks } from "../pi-adapter.ts";
import { redactSecrets } from "../provider-utils.ts";
import type { Account } from "../storage.ts";

const loginCodex = vi.hoisted(() => vi.fn<(callbacks: CodexLoginCallbacks) => Promise<unknown>>());
vi.mock("../pi-adapter.ts", () => ({ loginCodex }));

const { browserCommandFor, findSameLoginElsewhere, LOGIN_TIMEOUT_MS, loginAccount } = await import(
	"../login.ts"
);

function jwt(email: string, accountId: string): string {
	const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
	return `${part({ alg: "none" })}.${part({
		"https://api.openai.com/profile": { email },
		"https://api.openai.com/auth": { chatgpt_account_id: accountId },
	})}.sig`;
}

function stored(email: string, access: string): Account {
	return { email, accessToken: access, refreshToken: `refresh-${email}`, expiresAt: 1 };
}

describe("browserCommandFor", () => {
	const url = "https://auth.openai.com/oauth/authorize?a=1&b=(2)";

	it("uses open on macOS and xdg-open elsewhere", () => {
		expect(browserCommandFor("darwin", url)).toEqual({ command: "open", args: [url] });
		expect(browserCommandFor("linux", url)).toEqual({ command: "xdg-open", args: [url] });
		expect(browserCommandFor("freebsd", url)).toEqual({ command: "xdg-open", args: [url] });
	});

	it("uses cmd /c start on Windows, with cmd's special characters escaped", () => {
		expect(browserCommandFor("win32", url)).toEqual({
			command: "cmd",
			args: ["/c", "start", '""', "https://auth.openai.com/oauth/authorize?a=1^&b=^(2^)"],
		});
	});
});

describe("findSameLoginElsewhere", () => {
	const accounts = [
		stored("work", jwt("me@x.com", "acct-1")),
		stored("other@x.com", "opaque-token"),
	];

	it("finds the account holding the same OpenAI login under another identifier", () => {
		expect(findSameLoginElsewhere(accounts, "new", jwt("ME@x.com", "acct-1"))?.email).toBe("work");
	});

	it("does not count the account being logged in again, or another person", () => {
		expect(findSameLoginElsewhere(accounts, "work", jwt("me@x.com", "acct-1"))).toBeUndefined();
		expect(findSameLoginElsewhere(accounts, "new", jwt("you@x.com", "acct-1"))).toBeUndefined();
		expect(findSameLoginElsewhere(accounts, "new", jwt("me@x.com", "acct-2"))).toBeUndefined();
	});

	it("cannot tell for a token without identity claims", () => {
		expect(findSameLoginElsewhere(accounts, "new", "opaque-token")).toBeUndefined();
	});
});

describe("loginAccount", () => {
	const URL_SHOWN = "https://auth.openai.com/oauth/authorize?state=s1";
	const CREDS = {
		access: jwt("new@x.com", "acct-9"),
		refresh: "refresh-new",
		expires: 5,
		accountId: "acct-9",
	};
	let notes: [string, string][];
	let managed: Account[];
	let exec: ReturnType<typeof vi.fn>;
	let input: ReturnType<typeof vi.fn>;
	let deps: Parameters<typeof loginAccount>[1];

	function ctx(hasUI = true) {
		return {
			hasUI,
			ui: { notify: (m: string, level: string) => notes.push([m, level]), input },
		} as unknown as Parameters<typeof loginAccount>[0];
	}

	beforeEach(() => {
		notes = [];
		managed = [stored("work", jwt("me@x.com", "acct-1"))];
		exec = vi.fn(async () => ({ code: 0, killed: false, stdout: "", stderr: "" }));
		input = vi.fn(async () => undefined);
		const accountManager = {
			getManagedAccounts: () => managed,
			addOrUpdateAccount: vi.fn((email: string) => ({ email }) as Account),
			setManualAccount: vi.fn(),
			refreshUsageForAccount: vi.fn(async () => undefined),
			redact: (message: string) => redactSecrets(message, ["refresh-secret-value"]),
		};
		deps = {
			pi: { exec },
			accountManager,
			statusController: { refreshFor: vi.fn(async () => {}) },
		} as unknown as Parameters<typeof loginAccount>[1];
		loginCodex.mockReset();
	});

	afterEach(() => {
		vi.useRealTimers();
		vi.restoreAllMocks();
	});

	it("shows the URL, opens the browser, stores the account, pins it and says so", async () => {
		loginCodex.mockImplementation(async (callbacks) => {
			callbacks.onAuth({ url: URL_SHOWN });
			return CREDS;
		});
		const account = await loginAccount(ctx(), deps, "new@x.com");
		expect(account?.email).toBe("new@x.com");
		expect(notes).toEqual([
			["Starting login for new@x.com... Check your browser.", "info"],
			[`Open this URL to log in: ${URL_SHOWN}`, "info"],
			["Now using new@x.com", "info"],
		]);
		const { command, args } = browserCommandFor(process.platform, URL_SHOWN);
		expect(exec).toHaveBeenCalledWith(
			command,
			args,
			expect.objectContaining({ timeout: expect.any(Number) }),
		);
		expect(deps.accountManager.addOrUpdateAccount).toHaveBeenCalledWith("new@x.com", CREDS);
		expect(deps.accountManager.setManualAccount).toHaveBeenCalledWith("new@x.com");
	});

	it("says so when the account logged in again is still out of quota", async () => {
		const until = Date.now() + 40 * 60_000;
		(deps.accountManager.addOrUpdateAccount as ReturnType<typeof vi.fn>).mockImplementation(
			(email: string) => ({ email, quotaExhaustedUntil: until }) as Account,
		);
		loginCodex.mockImplementation(async () => CREDS);
		await loginAccount(ctx(), deps, "new@x.com");
		const last = notes.at(-1);
		expect(last?.[1]).toBe("warning");
		expect(last?.[0]).toMatch(/^Now using new@x\.com \(out of quota until .+, in (39|40)m: /);
	});

	it.each([
		["exits with an error", async () => ({ code: 3, killed: false, stdout: "", stderr: "" })],
		[
			"throws",
			async () => {
				throw new Error("spawn failed");
			},
		],
	])("warns when the browser command %s", async (_case, result) => {
		exec.mockImplementation(result);
		loginCodex.mockImplementation(async (callbacks) => {
			callbacks.onAuth({ url: URL_SHOWN });
			await new Promise((r) => setTimeout(r, 10));
			return CREDS;
		});
		await loginAccount(ctx(), deps, "new@x.com");
		expect(notes).toContainEqual([
			"Could not open a browser automatically. Open the login URL above by hand.",
			"warning",
		]);
	});

	it("asks for the pasted redirect URL through an input dialog pi can dismiss", async () => {
		input.mockResolvedValue("  http://localhost:1455/auth/callback?code=c&state=s1  ");
		const controller = new AbortController();
		let pasted: string | undefined;
		loginCodex.mockImplementation(async (callbacks) => {
			pasted = await callbacks.onPrompt("Paste", "http://localhost:1455/…", controller.signal);
			return CREDS;
		});
		await loginAccount(ctx(), deps, "new@x.com");
		expect(pasted).toBe("http://localhost:1455/auth/callback?code=c&state=s1");
		expect(input).toHaveBeenCalledWith(
			expect.stringMatching(/paste the redirect URL/),
			"http://localhost:1455/…",
			{
				signal: controller.signal,
			},
		);
	});

	it("says plainly that the login was cancelled when the question is closed", async () => {
		loginCodex.mockImplementation(async (callbacks) => callbacks.onPrompt("Paste"));
		expect(await loginAccount(ctx(), deps, "new@x.com")).toBeUndefined();
		expect(notes.at(-1)).toEqual(["Login cancelled.", "info"]);
		expect(notes.some(([message]) => message.startsWith("Login failed"))).toBe(false);
		expect(deps.accountManager.addOrUpdateAccount).not.toHaveBeenCalled();
	});

	it("without a UI waits for the browser callback, up to a time limit", async () => {
		vi.useFakeTimers();
		const write = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
		loginCodex.mockImplementation(async (callbacks) => callbacks.onPrompt("Paste"));
		const done = loginAccount(ctx(false), deps, "new@x.com");
		await vi.advanceTimersByTimeAsync(LOGIN_TIMEOUT_MS - 1000);
		expect(write).not.toHaveBeenCalledWith(expect.stringMatching(/Login failed/));
		await vi.advanceTimersByTimeAsync(1000);
		expect(await done).toBeUndefined();
		expect(input).not.toHaveBeenCalled();
		expect(write).toHaveBeenCalledWith(
			expect.stringMatching(/^Login failed: no browser login within 5 minutes/),
		);
	});

	it("without a UI makes the run exit with 1 when the login fails, not when it works", async () => {
		vi.spyOn(process.stderr, "write").mockImplementation(() => true);
		try {
			process.exitCode = undefined;
			loginCodex.mockResolvedValue(CREDS);
			expect((await loginAccount(ctx(false), deps, "new@x.com"))?.email).toBe("new@x.com");
			expect(process.exitCode).toBeUndefined();
			loginCodex.mockRejectedValue(new Error("token exchange failed: 500"));
			expect(await loginAccount(ctx(false), deps, "new@x.com")).toBeUndefined();
			expect(process.exitCode).toBe(1);
		} finally {
			process.exitCode = undefined;
		}
	});

	it("without a UI lets the callback win", async () => {
		vi.spyOn(process.stderr, "write").mockImplementation(() => true);
		const controller = new AbortController();
		loginCodex.mockImplementation(async (callbacks) => {
			const question = callbacks.onPrompt("Paste", undefined, controller.signal).catch((e) => e);
			controller.abort();
			expect(String(await question)).toMatch(/the browser finished the login/);
			return CREDS;
		});
		expect((await loginAccount(ctx(false), deps, "new@x.com"))?.email).toBe("new@x.com");
	});

	it("refuses a login stored under another identifier", async () => {
		loginCodex.mockResolvedValue({ ...CREDS, access: jwt("me@x.com", "acct-1") });
		expect(await loginAccount(ctx(), deps, "personal")).toBeUndefined();
		expect(notes.at(-1)).toEqual([
			"Login not stored: this OpenAI login is already stored as work, so personal would count the same quota twice. Use /multicodex use work, or remove work first.",
			"error",
		]);
		expect(deps.accountManager.addOrUpdateAccount).not.toHaveBeenCalled();
		expect(deps.accountManager.setManualAccount).not.toHaveBeenCalled();
	});

	it("never shows a token in a failure", async () => {
		loginCodex.mockRejectedValue(
			new Error(
				`token exchange failed: {"refresh_token":"refresh-secret-value","access":"${CREDS.access}"}`,
			),
		);
		await loginAccount(ctx(), deps, "new@x.com");
		const [message, level] = notes.at(-1) ?? [];
		expect(level).toBe("error");
		expect(message).toMatch(/^Login failed: token exchange failed/);
		expect(message).not.toContain("refresh-secret-value");
		expect(message).not.toContain(CREDS.access);
	});
});
