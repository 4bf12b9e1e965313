/**
 * Runs every pgTAP file in `supabase/tests/database/` (the ones `supabase test db` runs) on a
 * fresh database: real PostgreSQL when TEST_DATABASE_URL is set, PGlite otherwise.
 */
import assert from "node:assert/strict";
import { freshDatabase } from "../support/database.ts";

const TESTS_DIR = new URL("../../supabase/tests/database/", import.meta.url);

const files: string[] = [];
for await (const entry of Deno.readDir(TESTS_DIR)) {
  if (entry.isFile && entry.name.endsWith(".test.sql")) files.push(entry.name);
}
files.sort();

Deno.test("supabase/tests/database holds pgTAP files", () => {
  assert.ok(files.length > 0, `No *.test.sql files in ${TESTS_DIR.pathname}`);
});

Deno.test("pgTAP database tests pass", async (t) => {
  const database = await freshDatabase();
  try {
    for (const file of files) {
      await t.step(file, async () => {
        const script = await Deno.readTextFile(new URL(file, TESTS_DIR));
        const connection = await database.sql.reserve();
        let rows: unknown[];
        try {
          rows = await connection.unsafe(script);
        } catch (error) {
          // The file's transaction is left aborted: end it before the next file runs.
          await connection.unsafe("rollback");
          throw new Error(`${file} stopped with an error: ${(error as Error).message}`, {
            cause: error,
          });
        } finally {
          connection.release();
        }
        const report = readTap(rows);
        assert.deepEqual(report.problems, [], `${file}:\n${report.lines.join("\n")}`);
      });
    }
  } finally {
    await database.close();
  }
});

interface TapReport {
  /** Every TAP line the file printed. */
  lines: string[];
  /** Failed tests, plan mismatches and pgTAP's own complaints; empty when all passed. */
  problems: string[];
}

/** Collects TAP output from the results of a multi-statement script and judges it. */
function readTap(results: unknown[]): TapReport {
  const lines: string[] = [];
  for (const result of results) {
    for (const row of Array.isArray(result) ? result : [result]) {
      if (row === null || typeof row !== "object") continue;
      for (const value of Object.values(row)) {
        if (typeof value !== "string") continue;
        for (const line of value.split("\n")) {
          if (/^(ok|not ok) \d+|^1\.\.\d+|^\s*#/.test(line)) lines.push(line);
        }
      }
    }
  }
  const problems: string[] = [];
  const plans = lines.filter((line) => /^1\.\.\d+/.test(line));
  const tests = lines.filter((line) => /^(ok|not ok) \d+/.test(line));
  if (plans.length !== 1) problems.push(`expected one plan line, got ${plans.length}`);
  const planned = plans.length > 0 ? Number(plans[0].slice(3)) : NaN;
  if (tests.length !== planned) problems.push(`planned ${planned} tests but ran ${tests.length}`);
  problems.push(...tests.filter((line) => line.startsWith("not ok")));
  problems.push(...lines.filter((line) => line.startsWith("# Looks like")));
  return { lines, problems };
}
