// SPEC B6: the policy text `/multicodex rotation` shows says what the choice really does. Each
// claim of the "when it has to choose" sentence is checked against chooseAccount, called with
// the settings the way the account manager calls it for a request.
import { describe, expect, it } from "vitest";
import {
	describeRotationPolicy,
	ROTATION_STRATEGIES,
	type RotationSettings,
} from "../rotation-settings.ts";
import { chooseAccount } from "../selection.ts";
import type { Account } from "../storage.ts";
import type { CodexUsageSnapshot } from "../usage.ts";

const NOW = 1_767_225_600_000;
const DAY = 86_400_000;
const UNTOUCHED_FIRST = "an untouched account (0% used) first";
const RANDOM = "with no usage known, a random available account";

function account(email: string): Account {
	return { email, accessToken: `at-${email}`, refreshToken: `rt-${email}`, expiresAt: NOW + DAY };
}

function choose(
	settings: RotationSettings,
	accounts: Account[],
	usage: Map<string, CodexUsageSnapshot>,
	random: () => number,
): string | undefined {
	return chooseAccount(accounts, usage, {
		now: NOW,
		random,
		strategy: settings.strategy,
		preferUntouched: settings.preferUntouched,
		proactiveSwitchPercent: settings.proactiveSwitchPercent,
	})?.email;
}

/**
 * Whether an untouched account is taken over one that is as good by the strategy's own measure:
 * `busy` (listed first) is at 0% in the 5-hour window with its weekly window unknown but for an
 * earlier reset, so it is not untouched, yet ties or wins on usage and reset.
 */
function prefersUntouched(settings: RotationSettings): boolean {
	const usage = new Map<string, CodexUsageSnapshot>([
		["busy", { primary: { usedPercent: 0 }, secondary: { resetAt: NOW + DAY }, fetchedAt: NOW }],
		[
			"fresh",
			{
				primary: { usedPercent: 0 },
				secondary: { usedPercent: 0, resetAt: NOW + 5 * DAY },
				fetchedAt: NOW,
			},
		],
	]);
	return choose(settings, [account("busy"), account("fresh")], usage, () => 0) === "fresh";
}

/** Whether, with no usage known, the pick depends on chance. */
function picksAtRandom(settings: RotationSettings): boolean {
	const accounts = [account("a"), account("b"), account("c")];
	const first = choose(settings, accounts, new Map(), () => 0);
	const last = choose(settings, accounts, new Map(), () => 0.99);
	return first !== last;
}

const CASES: RotationSettings[] = ROTATION_STRATEGIES.flatMap((strategy) =>
	[true, false].flatMap((preferUntouched) =>
		[90, undefined].map((proactiveSwitchPercent) => ({
			strategy,
			preferUntouched,
			retryCount: 5,
			fallbackCooldownMinutes: 60,
			proactiveSwitchPercent,
		})),
	),
);

describe("describeRotationPolicy says what the choice does", () => {
	it.each(CASES)(
		"$strategy, preferUntouched $preferUntouched, proactive $proactiveSwitchPercent",
		(settings) => {
			const text = describeRotationPolicy(settings).join(" ");
			expect(text.includes(UNTOUCHED_FIRST)).toBe(prefersUntouched(settings));
			expect(text.includes(RANDOM)).toBe(picksAtRandom(settings));
		},
	);

	it("says that prefer untouched does not apply to the list-order strategies", () => {
		for (const strategy of ["round-robin", "fill-first"] as const) {
			const settings: RotationSettings = {
				strategy,
				preferUntouched: true,
				retryCount: 5,
				fallbackCooldownMinutes: 60,
			};
			expect(describeRotationPolicy(settings).join(" ")).toContain(
				`untouched accounts get no preference under ${strategy}`,
			);
			expect(
				describeRotationPolicy({ ...settings, preferUntouched: false }).join(" "),
			).not.toContain("untouched");
		}
	});
});

describe("describeRotationPolicy's list-order and login sentences", () => {
	const base: RotationSettings = {
		strategy: "fill-first",
		preferUntouched: false,
		retryCount: 5,
		fallbackCooldownMinutes: 60,
	};
	const text = (settings: Partial<RotationSettings>) =>
		describeRotationPolicy({ ...base, ...settings }).join(" ");

	it("fill-first names the threshold it leaves an account at, when there is one", () => {
		expect(text({ proactiveSwitchPercent: 90 })).toContain(
			"the first available account in list order, kept until it runs out or passes 90%.",
		);
		expect(text({ proactiveSwitchPercent: 90 })).not.toContain("used up");
		expect(text({})).toContain(
			"the first available account in list order, kept until it runs out, so one account is used up before the next.",
		);
	});

	it("fill-first moves on at the threshold, as the text says", () => {
		const accounts = [account("first"), account("second")];
		const usage = new Map<string, CodexUsageSnapshot>([
			["first", { primary: { usedPercent: 91 }, fetchedAt: NOW }],
			["second", { primary: { usedPercent: 10 }, fetchedAt: NOW }],
		]);
		const options = { now: NOW, strategy: "fill-first" as const, currentEmail: "first" };
		expect(chooseAccount(accounts, usage, { ...options, proactiveSwitchPercent: 90 })?.email).toBe(
			"second",
		);
		expect(chooseAccount(accounts, usage, options)?.email).toBe("first");
	});

	it("round-robin says that a new session goes on after the last session's account", () => {
		expect(text({ strategy: "round-robin" })).toContain(
			"a new session starts after the account the last session used, so sessions take turns",
		);
		const accounts = [account("a"), account("b"), account("c")];
		expect(
			chooseAccount(accounts, new Map(), { now: NOW, strategy: "round-robin", previousEmail: "a" })
				?.email,
		).toBe("b");
	});

	it("speaks of pi's own login only as a condition", () => {
		expect(text({})).toContain(
			"When you are logged in to pi with /login openai-codex, that login takes part in rotation too",
		);
		expect(describeRotationPolicy(base).some((line) => line.startsWith("pi's own login"))).toBe(
			false,
		);
	});
});
