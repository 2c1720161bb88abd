// SPEC A8/B12: how the command modules tell pi's TUI (panels and dialogs) from RPC, print and
// json mode (A8's one line): `ctx.mode` on pi 1.x, the theme list on pi 0.73; and `report()`
// and `showCustom()` with fake contexts shaped like each mode's.
import { afterEach, describe, expect, it, vi } from "vitest";
import { hasCustomUi, report, showCustom } from "../command-output.ts";

/** A ctx shaped like pi's: `mode` only on 1.x; `getAllThemes()` as each mode answers it. */
function fakeCtx(options: { hasUI: boolean; mode?: string; themes?: string[] }) {
	const notes: [string, string][] = [];
	const ctx = {
		hasUI: options.hasUI,
		...(options.mode === undefined ? {} : { mode: options.mode }),
		ui: {
			notify: (message: string, level: string) => notes.push([message, level]),
			getAllThemes: () => (options.themes ?? []).map((name) => ({ name, path: undefined })),
		},
	};
	return { ctx: ctx as never, notes };
}

afterEach(() => {
	vi.restoreAllMocks();
});

describe("hasCustomUi", () => {
	it("pi 1.x: ctx.mode decides, whatever the theme list says", () => {
		expect(hasCustomUi(fakeCtx({ hasUI: true, mode: "tui", themes: ["dark"] }).ctx)).toBe(true);
		expect(hasCustomUi(fakeCtx({ hasUI: true, mode: "tui" }).ctx)).toBe(true);
		expect(hasCustomUi(fakeCtx({ hasUI: true, mode: "rpc" }).ctx)).toBe(false);
		expect(hasCustomUi(fakeCtx({ hasUI: true, mode: "rpc", themes: ["dark"] }).ctx)).toBe(false);
		expect(hasCustomUi(fakeCtx({ hasUI: false, mode: "json" }).ctx)).toBe(false);
		expect(hasCustomUi(fakeCtx({ hasUI: false, mode: "print" }).ctx)).toBe(false);
	});

	it("pi 0.73 (no ctx.mode): the TUI lists its themes, RPC mode answers []", () => {
		expect(hasCustomUi(fakeCtx({ hasUI: true, themes: ["dark", "light"] }).ctx)).toBe(true);
		expect(hasCustomUi(fakeCtx({ hasUI: true, themes: [] }).ctx)).toBe(false);
		expect(hasCustomUi(fakeCtx({ hasUI: false, themes: ["dark"] }).ctx)).toBe(false);
	});
});

describe("report", () => {
	it("is a notification with a UI (TUI and RPC)", () => {
		const { ctx, notes } = fakeCtx({ hasUI: true, mode: "rpc" });
		const write = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
		report(ctx, "verify: PASS", "warning");
		report(ctx, "paths: …");
		expect(notes).toEqual([
			["verify: PASS", "warning"],
			["paths: …", "info"],
		]);
		expect(write).not.toHaveBeenCalled();
	});

	it("is a line on stderr without one (print and json mode)", () => {
		const { ctx, notes } = fakeCtx({ hasUI: false });
		const write = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
		report(ctx, "reset: target=all");
		expect(write).toHaveBeenCalledWith("reset: target=all\n");
		expect(notes).toEqual([]);
	});
});

describe("showCustom", () => {
	const component = { render: () => [], invalidate: () => {} };

	it("says shown, with the result, when pi built the component (TUI)", async () => {
		const ctx = {
			ui: {
				custom: (factory: (...args: unknown[]) => unknown) =>
					new Promise((resolve) => {
						factory({}, {}, {}, resolve);
					}),
			},
		};
		const shown = await showCustom<string>(ctx as never, (_tui, _theme, _keys, done) => {
			done("picked");
			return component;
		});
		expect(shown).toEqual({ shown: true, result: "picked" });
	});

	it("says not shown where custom() answers without building it (RPC)", async () => {
		const factory = vi.fn(() => component);
		const ctx = { ui: { custom: async () => undefined } };
		expect(await showCustom(ctx as never, factory)).toEqual({ shown: false });
		expect(factory).not.toHaveBeenCalled();
	});
});
