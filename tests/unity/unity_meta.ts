/**
 * Unity needs a `.meta` beside every file and folder of a package, with a GUID that never
 * changes (scenes and prefabs refer to scripts by it). These are written here rather than by
 * an editor, which these machines lack: the GUID is derived from the package name and the
 * path, so the same file always gets the same one.
 *
 * `deno run -A tests/unity/unity_meta.ts --write` writes missing or stale metas;
 * `--check` (what `run_nunit.ts` does) lists them and any orphan meta, and fails if there
 * are any.
 */

const PACKAGE_NAME = "com.vrstream.client";
const PACKAGE_DIR = new URL("../../unity-client/", import.meta.url).pathname;

/** What a meta check found. */
export interface MetaProblems {
  /** Paths (relative to the package) whose meta is missing or differs from the expected one. */
  stale: string[];
  /** Metas whose file or folder is gone. */
  orphans: string[];
}

/** The GUID of a package path: 32 hex digits of SHA-256 over the package name and path. */
export async function guidOf(relativePath: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(`${PACKAGE_NAME}/${relativePath}`),
  );
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("")
    .slice(0, 32);
}

/** The meta Unity would write for this path (a folder when `isFolder`). */
export async function metaFor(relativePath: string, isFolder: boolean): Promise<string> {
  const guid = await guidOf(relativePath);
  const tail = "  userData: \n  assetBundleName: \n  assetBundleVariant: \n";
  const head = `fileFormatVersion: 2\nguid: ${guid}\n`;
  if (isFolder) {
    return `${head}folderAsset: yes\nDefaultImporter:\n  externalObjects: {}\n${tail}`;
  }
  if (relativePath.endsWith(".cs")) {
    return `${head}MonoImporter:\n  externalObjects: {}\n  serializedVersion: 2\n` +
      `  defaultReferences: []\n  executionOrder: 0\n  icon: {instanceID: 0}\n${tail}`;
  }
  if (relativePath.endsWith(".asmdef")) {
    return `${head}AssemblyDefinitionImporter:\n  externalObjects: {}\n${tail}`;
  }
  if (relativePath === "package.json") {
    return `${head}PackageManifestImporter:\n  externalObjects: {}\n${tail}`;
  }
  return `${head}TextScriptImporter:\n  externalObjects: {}\n${tail}`;
}

/** Every path of the package that needs a meta: all but metas, dotfiles and `~` folders themselves. */
async function assetPaths(dir = "", found: { path: string; isFolder: boolean }[] = []) {
  for await (const entry of Deno.readDir(`${PACKAGE_DIR}${dir}`)) {
    if (entry.name.startsWith(".") || entry.name.endsWith(".meta")) continue;
    const path = dir ? `${dir}/${entry.name}` : entry.name;
    // Unity ignores folders ending in "~" (Samples~), so they have no meta; their content does,
    // as it is copied into a project on import.
    if (!entry.name.endsWith("~")) found.push({ path, isFolder: entry.isDirectory });
    if (entry.isDirectory) await assetPaths(path, found);
  }
  return found;
}

async function metaPaths(dir = "", found: string[] = []): Promise<string[]> {
  for await (const entry of Deno.readDir(`${PACKAGE_DIR}${dir}`)) {
    const path = dir ? `${dir}/${entry.name}` : entry.name;
    if (entry.isDirectory) await metaPaths(path, found);
    else if (entry.name.endsWith(".meta")) found.push(path);
  }
  return found;
}

/** Compares the package's metas with the expected ones; with `write`, fixes the stale ones. */
export async function checkMetas(options: { write?: boolean } = {}): Promise<MetaProblems> {
  const assets = await assetPaths();
  const stale: string[] = [];
  for (const { path, isFolder } of assets) {
    const expected = await metaFor(path, isFolder);
    const file = `${PACKAGE_DIR}${path}.meta`;
    const actual = await Deno.readTextFile(file).catch(() => null);
    if (actual === expected) continue;
    stale.push(path);
    if (options.write) await Deno.writeTextFile(file, expected);
  }
  const wanted = new Set(assets.map(({ path }) => `${path}.meta`));
  const orphans = (await metaPaths()).filter((path) => !wanted.has(path));
  return { stale: options.write ? [] : stale, orphans };
}

if (import.meta.main) {
  const write = Deno.args.includes("--write");
  const { stale, orphans } = await checkMetas({ write });
  for (const path of stale) console.log(`stale or missing meta: ${path}`);
  for (const path of orphans) console.log(`orphan meta: ${path}`);
  Deno.exit(stale.length + orphans.length === 0 ? 0 : 1);
}
