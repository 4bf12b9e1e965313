/**
 * What the Supabase CLI and edge runtime need of each function: a config.toml section, a
 * deno.json that maps exactly the npm packages its import graph uses at the root's versions,
 * extension-ful relative imports that stay in the repository, and none of the APIs the edge
 * runtime forbids.
 */
import assert from "node:assert/strict";
import { parse as parseToml } from "smol-toml";

const root = new URL("../../", import.meta.url);
const functionsDir = new URL("supabase/functions/", root);

function functionNames(): string[] {
  const names: string[] = [];
  for (const entry of Deno.readDirSync(functionsDir)) {
    if (entry.isDirectory && !entry.name.startsWith("_") && !entry.name.startsWith(".")) {
      names.push(entry.name);
    }
  }
  return names.sort();
}

function readJson(url: URL): Record<string, unknown> {
  return JSON.parse(Deno.readTextFileSync(url));
}

const rootImports = readJson(new URL("deno.json", root)).imports as Record<string, string>;

interface ModuleInfo {
  specifier: string;
  local?: string;
}

/** Resolves a function's graph with its own deno.json, as `supabase functions deploy` does. */
async function importGraph(name: string): Promise<ModuleInfo[]> {
  const dir = new URL(`${name}/`, functionsDir);
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "--config", new URL("deno.json", dir).pathname, "index.ts"],
    cwd: dir.pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  const info = JSON.parse(new TextDecoder().decode(output.stdout));
  return (info.modules as { specifier: string; local?: string; error?: string }[]).map((m) => {
    assert.equal(m.error, undefined, `${name}: ${m.specifier} does not resolve: ${m.error}`);
    return { specifier: m.specifier, local: m.local };
  });
}

/** Static and dynamic import specifiers written in a source file. */
function importSpecifiers(source: string): string[] {
  const found: string[] = [];
  const patterns = [
    /(?:^|[\s;])(?:import|export)\s[^"';]*?from\s*["']([^"']+)["']/g,
    /(?:^|[\s;])import\s*["']([^"']+)["']/g,
    /import\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const pattern of patterns) {
    for (const match of source.matchAll(pattern)) found.push(match[1]);
  }
  return found;
}

const FORBIDDEN_APIS: [RegExp, string][] = [
  [/Deno\.Command|Deno\.run\(/, "subprocesses"],
  [/new\s+Worker\s*\(/, "Workers"],
  [/Deno\.dlopen/, "FFI"],
  [/Deno\.openKv/, "KV"],
  [/Deno\.env\.set/, "Deno.env.set"],
  [/Deno\.(writeFile|writeTextFile|mkdir|remove|rename|create)\b/, "file writes"],
  [/Deno\.\w+Sync\s*\(/, "sync file APIs"],
];

Deno.test("every function folder has a config.toml section and every section a folder", () => {
  const config = parseToml(Deno.readTextFileSync(new URL("supabase/config.toml", root)));
  const sections = Object.keys((config.functions ?? {}) as Record<string, unknown>).sort();
  assert.deepEqual(sections, functionNames());
  for (const [name, section] of Object.entries(config.functions as Record<string, unknown>)) {
    const keys = Object.keys(section as Record<string, unknown>);
    assert.ok(keys.includes("verify_jwt"), `[functions.${name}] must set verify_jwt deliberately`);
  }
});

Deno.test("the only package.json files are the viewer's npm package and the Unity package's manifest", async () => {
  const files = await new Deno.Command("git", {
    args: ["ls-files", "--cached", "--others", "--exclude-standard"],
    cwd: root.pathname,
    stdout: "piped",
  }).output();
  const listed = new TextDecoder().decode(files.stdout).split("\n");
  // A package.json elsewhere would change how Deno resolves npm packages for that folder.
  assert.deepEqual(listed.filter((path) => /(^|\/)package\.json$/.test(path)).sort(), [
    "unity-client/package.json",
    "viewer/package.json",
  ]);
  // What the viewer uses is pinned in the root deno.json; the host app supplies the peers.
  const viewer = JSON.parse(await Deno.readTextFile(new URL("viewer/package.json", root)));
  assert.equal(viewer.dependencies, undefined);
  assert.deepEqual(Object.keys(viewer.peerDependencies).sort(), [
    "livekit-client",
    "react",
    "react-dom",
  ]);
});

Deno.test("the contract's functions are all there, guardian-approval included", () => {
  const contract = [
    "complete-upload",
    "delete-recording",
    "end-session",
    "guardian-approval",
    "guardian-consent",
    "guardians",
    "health",
    "livekit-token",
    "livekit-webhook",
    "notification-preferences",
    "reconcile",
    "recording-url",
    "send-notification",
    "sign-upload-url",
    "start-session",
    "streams",
  ];
  for (const name of contract) {
    assert.ok(functionNames().includes(name), `supabase/functions/${name}/ is missing`);
  }
});

Deno.test("config.toml keeps email confirmations on: a sign-up must own its address", () => {
  const config = parseToml(Deno.readTextFileSync(new URL("supabase/config.toml", root)));
  const auth = config.auth as { email?: { enable_confirmations?: unknown } } | undefined;
  assert.equal(auth?.email?.enable_confirmations, true);
});

Deno.test("the root import map maps only pinned npm packages", () => {
  for (const [name, target] of Object.entries(rootImports)) {
    assert.match(target, /^npm:(@[^/]+\/)?[^@/]+@\d+\.\d+\.\d+$/, `${name} -> ${target}`);
  }
});

for (const name of functionNames()) {
  Deno.test(`${name}: deno.json maps exactly the npm packages it imports, at the root's versions`, async () => {
    const config = readJson(new URL(`${name}/deno.json`, functionsDir));
    assert.deepEqual(
      Object.keys(config),
      ["imports"],
      "only imports belong in a function's deno.json",
    );
    const imports = config.imports as Record<string, string>;
    for (const [bare, target] of Object.entries(imports)) {
      assert.equal(
        target,
        rootImports[bare],
        `${name} pins ${bare} as ${target}, root as ${rootImports[bare]}`,
      );
    }
    const used = new Set<string>();
    for (const module of await importGraph(name)) {
      if (!module.local) continue;
      for (const specifier of importSpecifiers(Deno.readTextFileSync(module.local))) {
        if (!specifier.startsWith(".") && !specifier.startsWith("node:")) used.add(specifier);
      }
    }
    assert.deepEqual(Object.keys(imports).sort(), [...used].sort());
  });

  Deno.test(`${name}: imports stay in the repository, relative with .ts, and avoid forbidden APIs`, async () => {
    const repo = root.pathname;
    for (const module of await importGraph(name)) {
      const { specifier } = module;
      assert.ok(
        specifier.startsWith("npm:") || specifier.startsWith("node:") ||
          specifier.startsWith("file://"),
        `${name} imports ${specifier}: only npm packages and local files deploy`,
      );
      if (!specifier.startsWith("file://")) continue;
      const path = new URL(specifier).pathname;
      assert.ok(path.startsWith(repo), `${name} imports ${path}, outside the repository`);
      const relative = path.slice(repo.length);
      const ownFolder = `supabase/functions/${name}/`;
      assert.ok(
        relative.startsWith("shared/") || relative.startsWith(ownFolder),
        `${name} imports ${relative}: functions import only shared/ and their own folder`,
      );
      const source = Deno.readTextFileSync(path);
      for (const imported of importSpecifiers(source)) {
        assert.ok(!/^(jsr:|https?:)/.test(imported), `${relative} imports ${imported}`);
        assert.ok(
          !imported.startsWith("npm:"),
          `${relative}: pin ${imported} in deno.json instead`,
        );
        if (imported.startsWith(".")) {
          assert.match(imported, /\.ts$/, `${relative} imports ${imported} without .ts`);
        }
      }
      for (const [pattern, what] of FORBIDDEN_APIS) {
        assert.doesNotMatch(
          source,
          pattern,
          `${relative} uses ${what}, which the edge runtime forbids`,
        );
      }
    }
  });
}

/** Every TypeScript file under `shared/`, as paths relative to it. */
function sharedFiles(dir = ""): string[] {
  const files: string[] = [];
  for (const entry of Deno.readDirSync(new URL(`shared/${dir}`, root))) {
    if (entry.isDirectory) files.push(...sharedFiles(`${dir}${entry.name}/`));
    else if (entry.name.endsWith(".ts")) files.push(`${dir}${entry.name}`);
  }
  return files.sort();
}

Deno.test("shared code never imports from a function", () => {
  for (const file of sharedFiles()) {
    const source = Deno.readTextFileSync(new URL(`shared/${file}`, root));
    for (const imported of importSpecifiers(source)) {
      assert.doesNotMatch(imported, /supabase\/functions/, `shared/${file} imports ${imported}`);
    }
  }
});

Deno.test("the request kernel (shared/kernel/) imports nothing of the domain", () => {
  for (const file of sharedFiles().filter((name) => name.startsWith("kernel/"))) {
    const source = Deno.readTextFileSync(new URL(`shared/${file}`, root));
    for (const imported of importSpecifiers(source)) {
      if (!imported.startsWith(".")) continue; // npm packages
      assert.match(imported, /^\.\/[a-z_]+\.ts$/, `shared/${file} imports ${imported}`);
    }
  }
});
