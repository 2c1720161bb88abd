// Generates schemas/codex-accounts.schema.json from the zod schema in storage.ts (the one
// source of truth). `--check` exits non-zero when the committed file is out of date.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { getStorageSchemas } from "../storage-schema.ts";

export const SCHEMA_PATH = join(
	dirname(fileURLToPath(import.meta.url)),
	"..",
	"schemas",
	"codex-accounts.schema.json",
);

export function renderStorageJsonSchema(): string {
	const schema = z.toJSONSchema(getStorageSchemas().storage, { target: "draft-2020-12" });
	return `${JSON.stringify(schema, null, "\t")}\n`;
}

function main(): void {
	const rendered = renderStorageJsonSchema();
	if (process.argv.includes("--check")) {
		const committed = readFileSync(SCHEMA_PATH, "utf8");
		if (committed !== rendered) {
			console.error(`${SCHEMA_PATH} is out of date: run npm run generate:schema`);
			process.exit(1);
		}
		return;
	}
	writeFileSync(SCHEMA_PATH, rendered);
	console.log(`wrote ${SCHEMA_PATH}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
