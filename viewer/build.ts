/**
 * Builds the viewer's two outputs with esbuild (`npm:esbuild`, pinned in the root `deno.json`):
 *
 * - the standalone page in `viewer/dist/page/` (static files: `index.html` and hashed assets).
 *   React and react-dom are served by `preact/compat` there, which keeps the page shell within
 *   {@linkcode SHELL_BUDGET_BYTES} gzip; livekit-client is a chunk of its own, fetched only
 *   when a live view joins.
 * - the npm package in `viewer/dist/lib/` (ESM, `.d.ts` declarations, `viewer.css`), with
 *   `react`, `react-dom` and `livekit-client` left to the host app (peer dependencies).
 *
 * `deno task build:viewer [--functions-url URL] [--app-name NAME] [--page-only]` builds both
 * and fails when the shell is over budget; `deno task dev` calls {@linkcode buildPage} itself
 * when the page is missing or older than its sources ({@linkcode sourceFingerprint}).
 */
import * as esbuild from "esbuild";
import { gzipSync } from "node:zlib";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

/** The viewer folder. */
export const VIEWER_DIR: string = dirname(fileURLToPath(import.meta.url));
/** Where the standalone page is written. */
export const PAGE_DIR: string = join(VIEWER_DIR, "dist", "page");
/** Where the npm package's files are written. */
export const LIB_DIR: string = join(VIEWER_DIR, "dist", "lib");
/** The page shell's budget: everything loaded before any live view, gzip. */
export const SHELL_BUDGET_BYTES = 50 * 1024;

const SRC_DIR = join(VIEWER_DIR, "src");
const REPO_ROOT = join(VIEWER_DIR, "..");
const FINGERPRINT_FILE = "build-fingerprint.txt";
const PEERS = ["react", "react-dom", "livekit-client"];

/** Options of {@linkcode buildPage}. */
export interface BuildPageOptions {
  /** The functions' base URL baked into the page. @default "" (this origin's `/functions/v1`) */
  functionsUrl?: string;
  /** The product name shown on the page. @default "VR Stream" */
  appName?: string;
  /** Output folder. @default {@linkcode PAGE_DIR} */
  outDir?: string;
}

/** What a page build produced. */
export interface PageBuild {
  outDir: string;
  /** Bytes of the shell (HTML, entry script and its static imports, CSS) after gzip. */
  shellGzipBytes: number;
  /** Bytes of the lazily loaded live-view chunks after gzip. */
  lazyGzipBytes: number;
}

/** Builds the standalone page. */
export async function buildPage(options: BuildPageOptions = {}): Promise<PageBuild> {
  const outDir = options.outDir ?? PAGE_DIR;
  const fingerprint = await sourceFingerprint();
  await Deno.remove(outDir, { recursive: true }).catch(() => {});
  const assetsDir = join(outDir, "assets");
  const result = await esbuild.build({
    absWorkingDir: REPO_ROOT,
    entryPoints: [join(SRC_DIR, "main.tsx"), join(SRC_DIR, "viewer.css")],
    outdir: assetsDir,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "browser",
    target: ["es2022", "chrome100", "safari16", "firefox100"],
    minify: true,
    jsx: "automatic",
    alias: { "react": "preact/compat", "react-dom": "preact/compat" },
    entryNames: "[name]-[hash]",
    chunkNames: "chunk-[hash]",
    legalComments: "none",
    metafile: true,
    write: true,
    logLevel: "warning",
  });
  const outputs = result.metafile.outputs;
  const entry = Object.keys(outputs).find((path) => outputs[path].entryPoint?.endsWith("main.tsx"));
  const css = Object.keys(outputs).find((path) => path.endsWith(".css"));
  if (!entry || !css) throw new Error("Cannot build the viewer: esbuild wrote no entry script");

  const shellScripts = staticClosure(entry, outputs);
  const href = (path: string) => relative(outDir, join(REPO_ROOT, path)).replaceAll("\\", "/");
  const head = [
    `<link rel="stylesheet" href="${href(css)}">`,
    ...[...shellScripts].filter((path) => path !== entry).map((path) =>
      `<link rel="modulepreload" href="${href(path)}">`
    ),
    `<script type="module" src="${href(entry)}"></script>`,
  ].join("\n    ");
  const template = await Deno.readTextFile(join(VIEWER_DIR, "index.html"));
  const html = template
    .replaceAll("%APP_NAME%", escapeHtml(options.appName ?? "VR Stream"))
    .replaceAll("%FUNCTIONS_URL%", escapeHtml(options.functionsUrl ?? ""))
    .replace("%HEAD%", head);
  await Deno.writeTextFile(join(outDir, "index.html"), html);

  const gzipOf = async (path: string) =>
    gzipSync(await Deno.readFile(join(REPO_ROOT, path)), { level: 9 }).length;
  let shellGzipBytes = gzipSync(new TextEncoder().encode(html), { level: 9 }).length +
    await gzipOf(css);
  for (const path of shellScripts) shellGzipBytes += await gzipOf(path);
  let lazyGzipBytes = 0;
  for (const path of Object.keys(outputs)) {
    if (path.endsWith(".js") && !shellScripts.has(path)) lazyGzipBytes += await gzipOf(path);
  }
  await Deno.writeTextFile(join(outDir, FINGERPRINT_FILE), fingerprint);
  return { outDir, shellGzipBytes, lazyGzipBytes };
}

/** Builds the npm package's ESM files, declarations and stylesheet into {@linkcode LIB_DIR}. */
export async function buildPackage(): Promise<void> {
  await Deno.remove(LIB_DIR, { recursive: true }).catch(() => {});
  await esbuild.build({
    absWorkingDir: REPO_ROOT,
    entryPoints: { index: join(SRC_DIR, "mod.ts") },
    outdir: LIB_DIR,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "browser",
    target: ["es2022"],
    jsx: "automatic",
    external: PEERS.flatMap((name) => [name, `${name}/*`]),
    chunkNames: "chunk-[hash]",
    sourcemap: true,
    logLevel: "warning",
  });
  await Deno.copyFile(join(SRC_DIR, "viewer.css"), join(LIB_DIR, "viewer.css"));
  await emitDeclarations();
}

/**
 * A digest of everything the page is built from (sources, shell, this script, the pinned
 * versions), so that a stale page is rebuilt and an unchanged one is not.
 */
export async function sourceFingerprint(): Promise<string> {
  const files = [
    join(VIEWER_DIR, "index.html"),
    join(VIEWER_DIR, "build.ts"),
    join(REPO_ROOT, "deno.json"),
  ];
  for await (const path of walk(SRC_DIR)) files.push(path);
  files.sort();
  const parts: string[] = [];
  for (const path of files) {
    const info = await Deno.stat(path);
    parts.push(`${relative(REPO_ROOT, path)}:${info.size}:${info.mtime?.getTime() ?? 0}`);
  }
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(parts.join("\n")));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Whether `outDir` holds a page built from the current sources. */
export async function pageIsFresh(outDir: string = PAGE_DIR): Promise<boolean> {
  try {
    const built = await Deno.readTextFile(join(outDir, FINGERPRINT_FILE));
    return built === await sourceFingerprint();
  } catch {
    return false;
  }
}

/** The entry and every chunk it imports statically: what loads before any dynamic import. */
function staticClosure(entry: string, outputs: esbuild.Metafile["outputs"]): Set<string> {
  const seen = new Set<string>();
  const pending = [entry];
  while (pending.length > 0) {
    const path = pending.pop()!;
    if (seen.has(path)) continue;
    seen.add(path);
    for (const imported of outputs[path]?.imports ?? []) {
      if (imported.kind === "import-statement" && !imported.external) pending.push(imported.path);
    }
  }
  return seen;
}

async function emitDeclarations(): Promise<void> {
  const tsc = join(REPO_ROOT, "node_modules", "typescript", "bin", "tsc");
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      tsc,
      "--declaration",
      "--emitDeclarationOnly",
      "--allowImportingTsExtensions",
      "--skipLibCheck",
      "--strict",
      "--jsx",
      "react-jsx",
      "--module",
      "esnext",
      "--moduleResolution",
      "bundler",
      "--target",
      "es2022",
      "--lib",
      "es2022,dom,dom.iterable",
      "--types",
      "react,react-dom",
      "--typeRoots",
      join(REPO_ROOT, "node_modules", "@types"),
      "--outDir",
      LIB_DIR,
      "--rootDir",
      SRC_DIR,
      join(SRC_DIR, "mod.ts"),
    ],
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
    throw new Error(`Cannot write the package's type declarations:\n${text}`);
  }
  // The sources import with `.ts`/`.tsx` (as Deno wants); the package's files end in `.js`.
  for await (const path of walk(LIB_DIR)) {
    if (!path.endsWith(".d.ts")) continue;
    const text = await Deno.readTextFile(path);
    await Deno.writeTextFile(path, text.replace(/(from\s+"\.{1,2}\/[^"]+)\.tsx?"/g, '$1.js"'));
  }
}

async function* walk(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) yield* walk(path);
    else if (entry.isFile) yield path;
  }
}

function escapeHtml(value: string): string {
  return value.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;");
}

function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      "functions-url": { type: "string" },
      "app-name": { type: "string" },
      "page-only": { type: "boolean", default: false },
    },
  });
  try {
    const page = await buildPage({
      functionsUrl: values["functions-url"],
      appName: values["app-name"],
    });
    console.log(
      `Page: ${relative(REPO_ROOT, page.outDir)}/ shell ${kib(page.shellGzipBytes)} gzip ` +
        `(budget ${kib(SHELL_BUDGET_BYTES)}), live view chunks ${kib(page.lazyGzipBytes)} gzip`,
    );
    if (!values["page-only"]) {
      await buildPackage();
      console.log(`Package: ${relative(REPO_ROOT, LIB_DIR)}/ (ESM, .d.ts, viewer.css)`);
    }
    if (page.shellGzipBytes > SHELL_BUDGET_BYTES) {
      console.error(
        `The page shell is ${kib(page.shellGzipBytes)} gzip, over its budget of ` +
          `${kib(SHELL_BUDGET_BYTES)}: keep heavy code behind a dynamic import.`,
      );
      return 1;
    }
    return 0;
  } finally {
    await esbuild.stop();
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
