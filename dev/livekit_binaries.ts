/**
 * Finds the binaries of the real LiveKit media stack: `livekit-server`, the `egress` service and
 * `redis-server`. LiveKit's are built once by `dev/build_livekit.sh` (when Go is installed) into
 * a cache outside the clone, keyed by version, or found on `PATH`. See {@linkcode findMediaBinaries}.
 */
import { join } from "node:path";

/** The pinned versions (the README's "LiveKit locally and in CI" says why these). */
export const LIVEKIT_SERVER_VERSION = "v1.13.5";
export const EGRESS_VERSION = "v1.8.6";

const BUILD_SCRIPT = new URL("./build_livekit.sh", import.meta.url).pathname;

/** Where one binary comes from, for the banner. */
export interface Found {
  path: string;
  /** "cache", "PATH" or "built now". */
  origin: string;
}

/** What {@linkcode findMediaBinaries} found, and why something is missing. */
export interface MediaBinaries {
  livekitServer?: Found;
  egress?: Found;
  redis?: Found;
  /** Why each missing one is missing, in a sentence. */
  missing: Record<string, string>;
}

/** Options of {@linkcode findMediaBinaries}. */
export interface FindOptions {
  /** Build what is missing when Go is installed. @default true */
  build?: boolean;
  /** Receives progress lines. @default console.log */
  log?: (line: string) => void;
}

/** The cache folder of built binaries. */
export function binaryCache(): string {
  return Deno.env.get("VRSTREAM_BIN_CACHE") ??
    join(Deno.env.get("HOME") ?? "/tmp", ".cache", "vrstream", "bin");
}

/** Finds (and, with Go, builds once) livekit-server, egress and redis-server. */
export async function findMediaBinaries(options: FindOptions = {}): Promise<MediaBinaries> {
  const log = options.log ?? console.log;
  const build = options.build ?? true;
  const cache = binaryCache();
  const found: MediaBinaries = { missing: {} };
  const hasGo = await onPath("go") !== undefined;

  found.livekitServer = await existing(join(cache, `livekit-server-${LIVEKIT_SERVER_VERSION}`)) ??
    await onPath("livekit-server");
  if (!found.livekitServer) {
    if (hasGo && build) {
      found.livekitServer = await buildOne("livekit-server", log);
    } else {
      found.missing["livekit-server"] = hasGo
        ? "not built yet"
        : "Go is not installed, so it cannot be built, and it is not on PATH";
    }
  }

  found.redis = await onPath("redis-server");
  if (!found.redis) {
    found.missing.redis = "redis-server is not installed (apt-get install redis-server)";
  }

  const gstreamer = await hasGStreamer();
  found.egress = await existing(join(cache, `egress-${EGRESS_VERSION}`, "egress")) ??
    await onPath("egress");
  if (!found.egress) {
    if (!gstreamer) {
      found.missing.egress = "GStreamer's development packages are not installed (see README)";
    } else if (hasGo && build) {
      found.egress = await buildOne("egress", log);
    } else {
      found.missing.egress = hasGo ? "not built yet" : "Go is not installed, so it cannot be built";
    }
  }
  return found;
}

async function buildOne(target: string, log: (line: string) => void): Promise<Found | undefined> {
  log(`Building ${target} with Go (once; it is cached in ${binaryCache()})…`);
  const child = new Deno.Command("bash", {
    args: [BUILD_SCRIPT, target],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Progress: the script's own lines and Go's "downloading" lines, as they come.
  const progress = (async () => {
    let pending = "";
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const line of lines) if (line.trim()) log(`  ${line}`);
    }
  })();
  const [output, status] = await Promise.all([new Response(child.stdout).text(), child.status]);
  await progress;
  if (!status.success) {
    log(`  building ${target} failed (exit ${status.code}); using a stand-in instead`);
    return undefined;
  }
  return { path: output.trim().split("\n").pop()!, origin: "built now" };
}

async function existing(path: string): Promise<Found | undefined> {
  try {
    const info = await Deno.stat(path);
    return info.isFile && (info.mode ?? 0o100) & 0o100 ? { path, origin: "cache" } : undefined;
  } catch {
    return undefined;
  }
}

async function onPath(name: string): Promise<Found | undefined> {
  for (const folder of (Deno.env.get("PATH") ?? "").split(":")) {
    if (!folder) continue;
    const found = await existing(join(folder, name));
    if (found) return { path: found.path, origin: "PATH" };
  }
  return undefined;
}

/** GStreamer with the plugins egress needs (x264 from -ugly, mp4mux from -good, opus). */
async function hasGStreamer(): Promise<boolean> {
  const child = new Deno.Command("pkg-config", {
    args: ["--variable=pluginsdir", "gstreamer-1.0"],
    stdout: "piped",
    stderr: "null",
  });
  try {
    const { success, stdout } = await child.output();
    if (!success) return false;
    const plugins = new TextDecoder().decode(stdout).trim();
    for (const plugin of ["libgstx264.so", "libgstisomp4.so", "libgstopus.so"]) {
      await Deno.stat(join(plugins, plugin));
    }
    return true;
  } catch {
    return false;
  }
}
