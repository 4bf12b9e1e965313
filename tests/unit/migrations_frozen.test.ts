/**
 * A migration that landed is never edited: production databases already ran it, so a change
 * there would never reach them. `tests/fixtures/landed_migrations.sha256` (the output of
 * `sha256sum`, run in `supabase/migrations/`) freezes each landed file; a new migration gets
 * a newer timestamp than every landed one and is added to the list when it lands.
 */
import assert from "node:assert/strict";

const MIGRATIONS = new URL("../../supabase/migrations/", import.meta.url);
const LANDED = new URL("../fixtures/landed_migrations.sha256", import.meta.url);
const FILE_NAME = /^\d{14}_[a-z0-9_]+\.sql$/;

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function readLanded(): Map<string, string> {
  const landed = new Map<string, string>();
  for (const line of Deno.readTextFileSync(LANDED).split("\n")) {
    if (line.trim() === "") continue;
    const [sum, name] = line.split(/\s+\*?/);
    landed.set(name, sum);
  }
  return landed;
}

function migrationFiles(): string[] {
  return [...Deno.readDirSync(MIGRATIONS)]
    .filter((entry) => entry.isFile && entry.name.endsWith(".sql"))
    .map((entry) => entry.name)
    .sort();
}

Deno.test("every migration file is named <14-digit timestamp>_<snake_case>.sql", () => {
  const misnamed = migrationFiles().filter((name) => !FILE_NAME.test(name));
  assert.deepEqual(misnamed, []);
});

Deno.test("no landed migration was edited or removed", async () => {
  const changed: string[] = [];
  for (const [name, sum] of readLanded()) {
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      bytes = await Deno.readFile(new URL(name, MIGRATIONS));
    } catch {
      changed.push(`${name}: removed`);
      continue;
    }
    if (await sha256Hex(bytes) !== sum) changed.push(`${name}: edited after it landed`);
  }
  assert.deepEqual(changed, [], "Put the change in a new migration instead");
});

Deno.test("a new migration sorts after every landed one", () => {
  const landed = [...readLanded().keys()].sort();
  const newest = landed.at(-1) ?? "";
  const unlisted = migrationFiles().filter((name) => !readLanded().has(name));
  const older = unlisted.filter((name) => name < newest);
  assert.deepEqual(older, [], `New migrations must sort after ${newest}`);
});
