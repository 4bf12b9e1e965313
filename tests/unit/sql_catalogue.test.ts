/**
 * The map of the SQL stays true: `supabase/README.md`'s catalogue lists every `private.*`
 * function that code in `supabase/functions/` and `shared/` calls, no function that none calls,
 * the migration that defines each one now (the last `create [or replace] function` of it, not
 * dropped since), exactly the files that call it, and tests that exist (pgTAP files that name
 * it, else Deno tests).
 *
 * Adding a call of a new SQL function? Add its row to the table in supabase/README.md.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);
const CATALOGUE = new URL("supabase/README.md", ROOT);
const MIGRATIONS = new URL("supabase/migrations/", ROOT);
const CODE_FOLDERS = ["supabase/functions", "shared"];

const CALL = /\bprivate\.([a-z_][a-z0-9_]*)\s*\(/g;
const DEFINITION = /\bcreate\s+(?:or\s+replace\s+)?function\s+private\.([a-z_][a-z0-9_]*)\s*\(/gi;
const DROP = /\bdrop\s+function\s+(?:if\s+exists\s+)?private\.([a-z_][a-z0-9_]*)\b/gi;

/** A row of the catalogue's table. */
interface Row {
  name: string;
  definedIn: string[];
  callers: string[];
  pgtap: string[];
  /** Deno tests named where no pgTAP file calls the function. */
  denoTests: string[];
}

function* typeScriptFiles(folder: string): Generator<string> {
  for (const entry of Deno.readDirSync(new URL(`${folder}/`, ROOT))) {
    const path = `${folder}/${entry.name}`;
    if (entry.isDirectory) yield* typeScriptFiles(path);
    else if (entry.isFile && path.endsWith(".ts")) yield path;
  }
}

/** Code without its comments, so that a comment naming `private.x(...)` is no call. */
function withoutComments(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
}

/** Each called function's name, with the files (relative to the root) that call it. */
function calledFunctions(): Map<string, Set<string>> {
  const called = new Map<string, Set<string>>();
  for (const folder of CODE_FOLDERS) {
    for (const path of typeScriptFiles(folder)) {
      const code = withoutComments(Deno.readTextFileSync(new URL(path, ROOT)));
      for (const [, name] of code.matchAll(CALL)) {
        if (!called.has(name)) called.set(name, new Set());
        called.get(name)!.add(path);
      }
    }
  }
  return called;
}

/** Each function's defining migration now, or undefined when the last word on it is a drop. */
function definingMigrations(): Map<string, string | undefined> {
  const defined = new Map<string, string | undefined>();
  const files = [...Deno.readDirSync(MIGRATIONS)]
    .filter((entry) => entry.isFile && entry.name.endsWith(".sql"))
    .map((entry) => entry.name)
    .sort();
  for (const file of files) {
    const sql = Deno.readTextFileSync(new URL(file, MIGRATIONS)).replace(/--.*$/gm, "");
    const events = [
      ...[...sql.matchAll(DEFINITION)].map((m) => ({ at: m.index, name: m[1], file })),
      ...[...sql.matchAll(DROP)].map((m) => ({ at: m.index, name: m[1], file: undefined })),
    ].sort((a, b) => a.at - b.at);
    for (const event of events) defined.set(event.name, event.file);
  }
  return defined;
}

/** The backticked words of a table cell. */
function codeSpans(cell: string): string[] {
  return [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
}

/** The catalogue's rows: table lines whose first cell is `private.<name>`. */
function catalogue(): Row[] {
  const rows: Row[] = [];
  for (const line of Deno.readTextFileSync(CATALOGUE).split("\n")) {
    const cells = line.split("|").slice(1, -1).map((cell) => cell.trim());
    const name = /^`private\.([a-z_][a-z0-9_]*)`$/.exec(cells[0] ?? "")?.[1];
    if (!name) continue;
    assert.equal(cells.length, 5, `The catalogue's row of private.${name} has five cells`);
    const [, , defined, callers, tests] = cells;
    rows.push({
      name,
      definedIn: codeSpans(defined).filter((span) => span.endsWith(".sql")),
      callers: codeSpans(callers).filter((span) => span.endsWith(".ts")),
      pgtap: codeSpans(tests).filter((span) => span.endsWith(".test.sql")),
      denoTests: codeSpans(tests).filter((span) => span.endsWith(".test.ts")),
    });
  }
  return rows;
}

Deno.test("the catalogue has one row per function", () => {
  const names = catalogue().map((row) => row.name);
  assert.ok(names.length > 0, "supabase/README.md has a catalogue table");
  const repeated = names.filter((name, i) => names.indexOf(name) !== i);
  assert.deepEqual(repeated, []);
});

Deno.test("every private.* function the code calls is in the catalogue", () => {
  const listed = new Set(catalogue().map((row) => row.name));
  const missing = [...calledFunctions().keys()].filter((name) => !listed.has(name)).sort();
  assert.deepEqual(missing, [], "Add a row for each to the table in supabase/README.md");
});

Deno.test("the catalogue lists only functions that code calls", () => {
  const called = calledFunctions();
  const unused = catalogue().map((row) => row.name).filter((name) => !called.has(name));
  assert.deepEqual(unused, [], "Remove their rows from supabase/README.md");
});

Deno.test("each row names the migration that defines its function now", () => {
  const defined = definingMigrations();
  const wrong = catalogue()
    .filter((row) => row.definedIn.length !== 1 || row.definedIn[0] !== defined.get(row.name))
    .map((row) =>
      `private.${row.name}: the catalogue says ${row.definedIn.join(", ") || "nothing"}, ` +
      `the migrations say ${defined.get(row.name) ?? "no definition (dropped or never made)"}`
    );
  assert.deepEqual(wrong, []);
});

Deno.test("each row names exactly the files that call its function", () => {
  const called = calledFunctions();
  const wrong = catalogue()
    .filter((row) => called.has(row.name))
    .map((row) => ({
      name: `private.${row.name}`,
      listed: [...row.callers].sort(),
      calling: [...called.get(row.name)!].sort(),
    }))
    .filter((row) => JSON.stringify(row.listed) !== JSON.stringify(row.calling));
  assert.deepEqual(wrong, []);
});

Deno.test("each row names tests that exist, and pgTAP files that call its function", () => {
  const wrong: string[] = [];
  for (const row of catalogue()) {
    if (row.pgtap.length + row.denoTests.length === 0) {
      wrong.push(`private.${row.name}: no test named`);
    }
    for (const file of row.denoTests) {
      try {
        Deno.statSync(new URL(file, ROOT));
      } catch {
        wrong.push(`private.${row.name}: ${file} does not exist`);
      }
    }
    for (const file of row.pgtap) {
      let sql: string;
      try {
        sql = Deno.readTextFileSync(new URL(`supabase/tests/database/${file}`, ROOT));
      } catch {
        wrong.push(`private.${row.name}: supabase/tests/database/${file} does not exist`);
        continue;
      }
      if (!new RegExp(`\\bprivate\\.${row.name}\\b`).test(sql)) {
        wrong.push(`private.${row.name}: ${file} never names it`);
      }
    }
  }
  assert.deepEqual(wrong, []);
});

/** The top-level arguments of the call whose `(` is at `open` in `code`. */
function callArguments(code: string, open: number): string[] {
  const args: string[] = [];
  let depth = 0;
  let start = open + 1;
  for (let i = open; i < code.length; i++) {
    const char = code[i];
    if (char === "(" || char === "{" || char === "[") depth++;
    else if (char === ")" || char === "}" || char === "]") depth--;
    if (depth === 0) {
      args.push(code.slice(start, i));
      break;
    }
    if (depth === 1 && char === ",") {
      args.push(code.slice(start, i));
      start = i + 1;
    }
  }
  return args.map((arg) => arg.trim()).filter((arg) => arg !== "");
}

Deno.test("calls with more than three arguments name every argument (p_x => ...)", () => {
  const positional: string[] = [];
  for (const folder of CODE_FOLDERS) {
    for (const path of typeScriptFiles(folder)) {
      const code = withoutComments(Deno.readTextFileSync(new URL(path, ROOT)));
      for (const match of code.matchAll(CALL)) {
        const args = callArguments(code, match.index + match[0].length - 1);
        if (args.length > 3 && args.some((arg) => !/^p_[a-z0-9_]+\s*=>/.test(arg))) {
          positional.push(`${path}: private.${match[1]} with ${args.length} arguments`);
        }
      }
    }
  }
  assert.deepEqual(positional, []);
});

Deno.test("code and pgTAP files name a migration by its file, never by a bare timestamp", () => {
  const bare = /\b20\d{12}\b(?!_[a-z0-9_]+\.sql)/;
  const files = [
    ...CODE_FOLDERS.flatMap((folder) => [...typeScriptFiles(folder)]),
    ...[...Deno.readDirSync(new URL("supabase/tests/database/", ROOT))]
      .filter((entry) => entry.isFile && entry.name.endsWith(".sql"))
      .map((entry) => `supabase/tests/database/${entry.name}`),
  ];
  const found = files.flatMap((path) =>
    Deno.readTextFileSync(new URL(path, ROOT)).split("\n")
      .map((line, i) => ({ line, at: `${path}:${i + 1}` }))
      .filter(({ line }) => bare.test(line))
      .map(({ at }) => at)
  );
  assert.deepEqual(found, [], "Name the file (20261201010000_webhook_statements.sql) and function");
});
