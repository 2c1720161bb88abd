import { defineConfig } from "vitest/config";

export default defineConfig({
	test: {
		projects: [
			{
				test: {
					name: "unit",
					sequence: { groupOrder: 0 },
					include: ["test/**/*.test.ts"],
					exclude: ["test/e2e-*.test.ts", "test/sim-backend.test.ts"],
				},
			},
			{
				test: {
					name: "e2e",
					sequence: { groupOrder: 1 },
					include: ["test/e2e-*.test.ts", "test/sim-backend.test.ts"],
					testTimeout: 120_000,
					hookTimeout: 60_000,
					// Each e2e file starts real pi processes; two cores run two files at once at most.
					maxWorkers: 2,
				},
			},
		],
	},
});
