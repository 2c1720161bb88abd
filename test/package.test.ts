// SPEC A9: the package contract — what pi reads from package.json, the dependency layout, the
// licence, and the public surface `index.ts` exports (the extension and the 2.3.1 helpers).
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, expectTypeOf, it, vi } from "vitest";
import type { Account, CodexUsageSnapshot, ProviderModelDef } from "../index.ts";
import * as publicApi from "../index.ts";
import type { ProviderModelDef as ProviderModelDefFromProvider } from "../provider.ts";
import type { Account as AccountFromStorage } from "../storage.ts";
import type { CodexUsageSnapshot as CodexUsageSnapshotFromUsage } from "../usage.ts";

interface PackageJson {
	license?: string;
	keywords?: string[];
	pi?: { extensions?: string[] };
	dependencies?: Record<string, string>;
	devDependencies?: Record<string, string>;
	peerDependencies?: Record<string, string>;
	peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

const ROOT = new URL("../", import.meta.url);
const PI_PACKAGES = [
	"@mariozechner/pi-ai",
	"@mariozechner/pi-coding-agent",
	"@mariozechner/pi-tui",
];

/** Every value A9 lists; `satisfies` makes tsgo fail as soon as one is no longer exported. */
const RUNTIME_EXPORTS = [
	"AccountManager",
	"parseImportedOpenAICodexAuth",
	"buildMulticodexProviderConfig",
	"getOpenAICodexMirror",
	"PROVIDER_ID",
	"isQuotaErrorMessage",
	"isAccountAvailable",
	"pickBestAccount",
	"createUsageStatusController",
	"formatActiveAccountStatus",
	"isManagedModel",
	"createStreamWrapper",
	"formatResetAt",
	"getMaxUsedPercent",
	"getNextResetAt",
	"getWeeklyResetAt",
	"isUsageUntouched",
	"parseCodexUsageResponse",
] as const satisfies readonly (keyof typeof publicApi)[];

/** The module's exports as a plain record, so they can be looked up by name. */
const exported: Readonly<Record<string, unknown>> = { ...publicApi };

function readPackageJson(): PackageJson {
	return JSON.parse(readFileSync(new URL("package.json", ROOT), "utf8")) as PackageJson;
}

describe("package.json", () => {
	const pkg = readPackageJson();

	it("tells pi to load index.ts as the extension, with no build step", () => {
		expect(pkg.pi).toEqual({ extensions: ["./index.ts"] });
		expect(existsSync(new URL("index.ts", ROOT))).toBe(true);
	});

	it("carries the pi-package keyword", () => {
		expect(pkg.keywords).toContain("pi-package");
	});

	it.each(PI_PACKAGES)("takes %s as an optional peer (*) and as a dev dependency", (name) => {
		expect(pkg.peerDependencies?.[name]).toBe("*");
		expect(pkg.peerDependenciesMeta?.[name]?.optional).toBe(true);
		expect(pkg.devDependencies?.[name]).toEqual(expect.any(String));
		// A pi package shipped as a runtime dependency would load a second copy of pi.
		expect(pkg.dependencies?.[name]).toBeUndefined();
	});

	it("has zod as a runtime dependency", () => {
		expect(pkg.dependencies?.zod).toEqual(expect.any(String));
	});

	it("is MIT licensed, with the licence text in LICENSE", () => {
		expect(pkg.license).toBe("MIT");
		const license = readFileSync(new URL("LICENSE", ROOT), "utf8");
		expect(license).toMatch(/MIT License/);
		expect(license).toMatch(/Permission is hereby granted, free of charge/);
	});
});

describe("index.ts", () => {
	let dir: string | undefined;

	afterEach(() => {
		vi.unstubAllEnvs();
		if (dir) rmSync(dir, { recursive: true, force: true });
		dir = undefined;
	});

	it("default-exports the extension factory", () => {
		expect(publicApi.default).toEqual(expect.any(Function));
	});

	it.each(RUNTIME_EXPORTS)("exports %s", (name) => {
		expect(Object.keys(publicApi)).toContain(name);
		expect(exported[name]).toBeDefined();
	});

	it("exports the helpers and AccountManager (a class) as functions, PROVIDER_ID as a string", () => {
		for (const name of RUNTIME_EXPORTS) {
			if (name === "PROVIDER_ID") continue;
			expect(exported[name], name).toEqual(expect.any(Function));
		}
		expect(publicApi.PROVIDER_ID).toBe("openai-codex");
	});

	it("exports the types ProviderModelDef, Account and CodexUsageSnapshot (checked by tsgo)", () => {
		expectTypeOf<ProviderModelDef>().toEqualTypeOf<ProviderModelDefFromProvider>();
		expectTypeOf<Account>().toEqualTypeOf<AccountFromStorage>();
		expectTypeOf<CodexUsageSnapshot>().toEqualTypeOf<CodexUsageSnapshotFromUsage>();
		const snapshot: CodexUsageSnapshot = { primary: { usedPercent: 10 }, fetchedAt: 0 };
		expect(publicApi.getMaxUsedPercent(snapshot)).toBe(10);
	});

	it("constructs an AccountManager with no arguments, in pi's agent dir", () => {
		dir = mkdtempSync(join(tmpdir(), "multicodex-package-"));
		vi.stubEnv("PI_CODING_AGENT_DIR", dir);
		const manager = new publicApi.AccountManager();
		try {
			expect(manager.getStoragePath().startsWith(dir)).toBe(true);
			expect(manager.getAccounts()).toEqual([]);
		} finally {
			manager.cancelBackgroundWork();
		}
	});
});
