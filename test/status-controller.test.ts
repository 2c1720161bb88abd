// SPEC A7/B9: the footer controller with a fake ctx and account manager: shown only for Codex
// models with a UI, refreshes that never overlap (at most one queued), a stale ctx let go, the
// draft preview of the settings panel, and a save that fails leaving the old preferences.
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { AccountManager } from "../account-manager.ts";
import { DEFAULT_FOOTER_PREFERENCES } from "../footer-settings.ts";
import { AGENT_DIR_ENV } from "../provider-utils.ts";
import { createUsageStatusController, STATUS_KEY } from "../status.ts";
import type { CodexUsageSnapshot } from "../usage.ts";

const USAGE: CodexUsageSnapshot = {
	primary: { usedPercent: 10 },
	secondary: { usedPercent: 20 },
	fetchedAt: 0,
};

let usage: CodexUsageSnapshot | undefined;
let stateHandlers: (() => void)[];
let pendingFetches: (() => void)[];
let fetches: number;
let manager: AccountManager;
let agentDir: string;
const previousAgentDir = process.env[AGENT_DIR_ENV];

function fakeCtx(provider = "openai-codex", hasUI = true) {
	const statuses: (string | undefined)[] = [];
	const ctx = {
		hasUI,
		model: { provider },
		ui: {
			theme: { fg: (_color: string, text: string) => text },
			setStatus: vi.fn((key: string, text: string | undefined) => {
				expect(key).toBe(STATUS_KEY);
				statuses.push(text);
			}),
			notify: vi.fn(),
		},
	};
	return { ctx: ctx as never, statuses, raw: ctx };
}

beforeEach(() => {
	agentDir = mkdtempSync(join(tmpdir(), "multicodex-status-"));
	process.env[AGENT_DIR_ENV] = agentDir;
	usage = undefined;
	stateHandlers = [];
	pendingFetches = [];
	fetches = 0;
	manager = {
		getActiveAccount: () => ({ email: "a@x.com" }),
		getCachedUsage: () => usage,
		onStateChange: (handler: () => void) => {
			stateHandlers.push(handler);
			return () => {};
		},
		refreshUsageForAccount: () => {
			fetches++;
			return new Promise<void>((resolve) => {
				pendingFetches.push(() => {
					usage = USAGE;
					resolve();
				});
			});
		},
		warn: vi.fn(),
	} as unknown as AccountManager;
});

afterEach(() => {
	rmSync(agentDir, { recursive: true, force: true });
	if (previousAgentDir === undefined) delete process.env[AGENT_DIR_ENV];
	else process.env[AGENT_DIR_ENV] = previousAgentDir;
});

async function settle(): Promise<void> {
	for (let i = 0; i < 5; i++) await Promise.resolve();
}

describe("the footer", () => {
	it("shows loading, then the usage, for a Codex model", async () => {
		const controller = createUsageStatusController(manager);
		const { ctx, statuses } = fakeCtx();
		const done = controller.refreshFor(ctx);
		expect(statuses).toEqual(["Codex a@x.com loading..."]);
		pendingFetches.shift()?.();
		await done;
		expect(statuses.at(-1)).toBe("Codex · a@x.com · 5h:90% left · 7d:80% left");
	});

	it("is cleared for another provider's model and never fetched for it", async () => {
		const controller = createUsageStatusController(manager);
		const { ctx, statuses } = fakeCtx("anthropic");
		await controller.refreshFor(ctx);
		expect(statuses).toEqual([undefined]);
		expect(fetches).toBe(0);
	});

	it("does nothing without a UI", async () => {
		const controller = createUsageStatusController(manager);
		const { ctx, raw } = fakeCtx("openai-codex", false);
		await controller.refreshFor(ctx);
		expect(raw.ui.setStatus).not.toHaveBeenCalled();
	});

	it("never runs two refreshes at once, and queues at most one", async () => {
		const controller = createUsageStatusController(manager);
		const { ctx } = fakeCtx();
		const first = controller.refreshFor(ctx);
		void controller.refreshFor(ctx);
		void controller.refreshFor(ctx);
		void controller.refreshFor(ctx);
		expect(fetches).toBe(1);
		pendingFetches.shift()?.();
		await first;
		await settle();
		expect(fetches).toBe(2);
		pendingFetches.shift()?.();
		await settle();
		expect(fetches).toBe(2);
	});

	it("clears itself at shutdown and never touches that ctx again", async () => {
		const controller = createUsageStatusController(manager);
		const { ctx, statuses } = fakeCtx();
		usage = USAGE;
		controller.renderCachedStatus(ctx);
		void controller.refreshFor(ctx);
		controller.stopAutoRefresh(ctx);
		expect(statuses.at(-1)).toBeUndefined();
		const count = statuses.length;
		for (const handler of stateHandlers) handler();
		pendingFetches.shift()?.();
		await settle();
		expect(statuses).toHaveLength(count);
	});

	it("lets go of a ctx that throws (replaced session) without failing", async () => {
		const controller = createUsageStatusController(manager);
		const { ctx, raw } = fakeCtx();
		raw.ui.setStatus.mockImplementation(() => {
			throw new Error("This extension ctx is stale after session replacement");
		});
		usage = USAGE;
		await expect(controller.refreshFor(ctx)).resolves.toBeUndefined();
		const calls = raw.ui.setStatus.mock.calls.length;
		for (const handler of stateHandlers) handler();
		expect(raw.ui.setStatus.mock.calls.length).toBe(calls);
	});

	it("follows a draft while the settings panel is open", () => {
		const controller = createUsageStatusController(manager);
		const { ctx, statuses } = fakeCtx();
		usage = USAGE;
		controller.previewDraft(ctx, { ...DEFAULT_FOOTER_PREFERENCES, usageMode: "used" });
		expect(statuses.at(-1)).toBe("Codex · a@x.com · 5h:10% used · 7d:20% used");
		controller.previewDraft(ctx, undefined);
		expect(statuses.at(-1)).toBe("Codex · a@x.com · 5h:90% left · 7d:80% left");
		expect(
			controller.formatPreview(
				{ fg: (_c, t) => t },
				{ ...DEFAULT_FOOTER_PREFERENCES, order: "usage-first" },
			),
		).toBe("Codex · 5h:90% left · 7d:80% left · a@x.com");
	});

	it("saves a change at once, keeping the other keys of settings.json", () => {
		writeFileSync(join(agentDir, "settings.json"), JSON.stringify({ theme: "dark" }));
		const controller = createUsageStatusController(manager);
		const { ctx } = fakeCtx();
		controller.savePreferences(ctx, { ...DEFAULT_FOOTER_PREFERENCES, showAccount: false });
		expect(JSON.parse(readFileSync(join(agentDir, "settings.json"), "utf8"))).toEqual({
			theme: "dark",
			"pi-multicodex": { ...DEFAULT_FOOTER_PREFERENCES, showAccount: false },
		});
		expect(controller.getPreferences().showAccount).toBe(false);
	});

	it("keeps the old preferences when the settings file cannot be saved", () => {
		writeFileSync(join(agentDir, "settings.json"), "{ damaged");
		const controller = createUsageStatusController(manager);
		const { ctx } = fakeCtx();
		expect(() =>
			controller.savePreferences(ctx, { ...DEFAULT_FOOTER_PREFERENCES, usageMode: "used" }),
		).toThrow(/damaged/);
		expect(controller.getPreferences()).toEqual(DEFAULT_FOOTER_PREFERENCES);
		expect(readFileSync(join(agentDir, "settings.json"), "utf8")).toBe("{ damaged");
	});

	it("picks up preferences another pi window saved, before rendering", async () => {
		const path = join(agentDir, "settings.json");
		writeFileSync(path, JSON.stringify({ "pi-multicodex": { usageMode: "left" } }));
		const controller = createUsageStatusController(manager);
		const { ctx, statuses } = fakeCtx();
		usage = USAGE;
		await controller.loadPreferences(ctx);
		controller.renderCachedStatus(ctx);
		expect(statuses.at(-1)).toBe("Codex · a@x.com · 5h:90% left · 7d:80% left");

		// Another pi saves as we do: a new file renamed into place.
		writeFileSync(`${path}.tmp`, JSON.stringify({ "pi-multicodex": { usageMode: "used" } }));
		renameSync(`${path}.tmp`, path);
		controller.renderCachedStatus(ctx);
		expect(statuses.at(-1)).toBe("Codex · a@x.com · 5h:10% used · 7d:20% used");

		// An editor writes in place.
		writeFileSync(
			path,
			JSON.stringify({ "pi-multicodex": { usageMode: "used", showAccount: false } }),
		);
		controller.scheduleModelSelectRefresh(ctx);
		expect(statuses.at(-1)).toBe("Codex · 5h:10% used · 7d:20% used");
		controller.stopAutoRefresh();
		expect(controller.getPreferences().showAccount).toBe(false);
	});

	it("keeps the preferences and warns once when another window left settings.json damaged", async () => {
		const path = join(agentDir, "settings.json");
		writeFileSync(path, JSON.stringify({ "pi-multicodex": { usageMode: "used" } }));
		const controller = createUsageStatusController(manager);
		const { ctx, statuses } = fakeCtx();
		usage = USAGE;
		await controller.loadPreferences(ctx);

		writeFileSync(path, "{ damaged");
		controller.renderCachedStatus(ctx);
		controller.renderCachedStatus(ctx);

		expect(statuses.at(-1)).toBe("Codex · a@x.com · 5h:10% used · 7d:20% used");
		expect(manager.warn).toHaveBeenCalledTimes(1);
		expect(manager.warn).toHaveBeenCalledWith(
			expect.stringContaining("footer settings not reloaded"),
		);
	});

	it("says a damaged settings.json was not loaded: a notification with a UI, stderr without", async () => {
		writeFileSync(join(agentDir, "settings.json"), "{ damaged");
		const controller = createUsageStatusController(manager);
		const withUi = fakeCtx("openai-codex", true);
		await controller.loadPreferences(withUi.ctx);
		expect(withUi.raw.ui.notify).toHaveBeenCalledWith(
			expect.stringContaining("footer settings not loaded"),
			"warning",
		);

		const stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
		try {
			const printMode = fakeCtx("openai-codex", false);
			await controller.loadPreferences(printMode.ctx);
			expect(printMode.raw.ui.notify).not.toHaveBeenCalled();
			expect(stderr).toHaveBeenCalledWith(expect.stringContaining("footer settings not loaded"));
		} finally {
			stderr.mockRestore();
		}
		expect(controller.getPreferences()).toEqual(DEFAULT_FOOTER_PREFERENCES);
	});
});
