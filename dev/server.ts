/**
 * `deno task dev`: serves every function of `supabase/functions/` on one port, like the
 * Supabase gateway, over your database or an embedded one. See {@linkcode startStack}.
 *
 * Flags: `--port N` (0: any free port), `--reset` (wipe the embedded database first),
 * `--seed` / `--no-seed` (demo data; default: only into the embedded database),
 * `--no-env-file` (ignore `.env`), `--data-dir DIR` (local state, default `.data`),
 * `--functions-dir DIR`, `--livekit-port N` (the local LiveKit's port, default 7880; 0: any free
 * port), `--livekit-standin` (the embedded LiveKit stand-in even where the real server could run), `--no-local-services` (the functions alone: no local bucket, LiveKit,
 * egress or schedules; the HTTP tests use it).
 *
 * Harnesses wait for the one stdout line `READY {"url":"http://127.0.0.1:PORT"}`.
 */
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { loadEnvFile } from "./env_file.ts";
import { type LocalBucket, startLocalBucket } from "./local_bucket.ts";
import { type MediaStack, startMediaStack } from "./media_stack.ts";
import { startSchedules } from "./schedules.ts";
import { REPO_ROOT, type Stack, startStack, type StartStackOptions } from "./stack.ts";

/** What `deno task dev` runs beside the functions (see `dev/media_stack.ts`). */
interface Beside {
  bucket?: LocalBucket;
  media?: MediaStack;
  stopSchedules?: () => Promise<void>;
  /** Banner lines. */
  describe: string[];
}

const USAGE = `Usage: deno task dev [--port N] [--reset] [--seed | --no-seed] [--no-env-file]
                     [--data-dir DIR] [--functions-dir DIR] [--livekit-port N]
                     [--livekit-standin] [--no-local-services]`;

if (import.meta.main) await main(Deno.args);

async function main(args: string[]): Promise<void> {
  let options: DevOptions;
  try {
    options = parseFlags(args);
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : error}\n${USAGE}`);
    Deno.exit(2);
  }

  let stack: Stack;
  const beside: Beside = { describe: [] };
  try {
    // The HTTP tests run the server alone (--no-local-services): no bucket, LiveKit or drains.
    if (options.localServices !== false) await startBucket(options, beside);
    stack = await startStack({ ...options, env: { ...beside.bucket?.env, ...options.env } });
    if (options.localServices !== false) await startMedia(stack, options, beside);
  } catch (error) {
    await stopBeside(beside);
    const message = error instanceof Error ? error.message : String(error);
    console.error(
      message.startsWith("Cannot ") ? message : `Cannot start the local stack: ${message}`,
    );
    Deno.exit(1);
  }

  stopOnSignals(stack, beside);
  console.log(banner(stack, beside));
  console.log(`READY ${JSON.stringify({ url: stack.url })}`);
}

/** Options of `deno task dev` beyond the stack's own. */
type DevOptions = StartStackOptions & { livekitStandIn?: boolean; localServices?: boolean };

/**
 * The local bucket, unless GCS is configured (in the environment or `.env`). Loaded before the
 * functions: they read `GCS_*` at start.
 */
async function startBucket(options: DevOptions, beside: Beside): Promise<void> {
  if (options.envFile !== false) {
    await loadEnvFile(options.envFile ?? join(REPO_ROOT, ".env"));
  }
  if (Deno.env.get("GCS_BUCKET")?.trim()) {
    beside.describe.push("Bucket: the one in GCS_BUCKET");
    return;
  }
  const dataDir = join(options.dataDir ?? join(REPO_ROOT, ".data"), "bucket");
  beside.bucket = await startLocalBucket({ dataDir });
  // Egress there cannot encode AAC (Debian's GStreamer has no faac): H.264 + Opus instead.
  if (!Deno.env.get("EGRESS_ENCODING")) Deno.env.set("EGRESS_ENCODING", "h264-720p30-opus");
  beside.describe.push(
    `Bucket: the local one (the project's GCS double) at ${beside.bucket.double.url}, objects kept in ${dataDir}`,
  );
}

/**
 * LiveKit, when the functions were given the development defaults (no LIVEKIT_* of yours):
 * on the port of that LIVEKIT_URL, with its key pair, webhooks to `livekit-webhook`. Then the
 * schedules that pg_cron runs in production.
 */
async function startMedia(stack: Stack, options: DevOptions, beside: Beside): Promise<void> {
  if (stack.defaultsApplied.includes("LIVEKIT_URL")) {
    const url = new URL(Deno.env.get("LIVEKIT_URL")!);
    beside.media = await startMediaStack({
      apiKey: Deno.env.get("LIVEKIT_API_KEY")!,
      apiSecret: Deno.env.get("LIVEKIT_API_SECRET")!,
      port: Number(url.port),
      webhookUrl: `${stack.url}/functions/v1/livekit-webhook`,
      bucket: beside.bucket,
      workDir: join(options.dataDir ?? join(REPO_ROOT, ".data"), "livekit"),
      standIn: options.livekitStandIn,
    });
    beside.describe.push(...beside.media.describe);
  } else {
    beside.describe.push("LiveKit: the one in LIVEKIT_URL");
  }
  const jwtSecret = Deno.env.get("SUPABASE_JWT_SECRET");
  if (jwtSecret) {
    beside.stopSchedules = startSchedules({
      functionsUrl: `${stack.url}/functions/v1`,
      jwtSecret,
      log: (line) => console.error(line),
    });
    beside.describe.push(
      "Schedules: send-notification every 3 s and reconcile every 30 s, as pg_cron in production",
    );
  }
}

async function stopBeside(beside: Beside): Promise<void> {
  await beside.stopSchedules?.();
  await beside.media?.stop();
  await beside.bucket?.stop();
}

function parseFlags(args: string[]): DevOptions {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      port: { type: "string" },
      reset: { type: "boolean", default: false },
      seed: { type: "boolean" },
      "no-seed": { type: "boolean" },
      "no-env-file": { type: "boolean", default: false },
      "data-dir": { type: "string" },
      "functions-dir": { type: "string" },
      "livekit-port": { type: "string" },
      "livekit-standin": { type: "boolean", default: false },
      "no-local-services": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const options: DevOptions = {
    reset: values.reset,
    livekitStandIn: values["livekit-standin"],
    localServices: !values["no-local-services"],
  };
  if (values.port !== undefined) options.port = portNumber("--port", values.port);
  if (values["livekit-port"] !== undefined) {
    options.livekitPort = portNumber("--livekit-port", values["livekit-port"]);
  }
  if (values.seed && values["no-seed"]) throw new Error("--seed and --no-seed exclude each other");
  if (values.seed) options.seed = true;
  if (values["no-seed"]) options.seed = false;
  if (values["no-env-file"]) options.envFile = false;
  if (values["data-dir"]) options.dataDir = resolve(values["data-dir"]);
  if (values["functions-dir"]) options.functionsDir = resolve(values["functions-dir"]);
  return options;
}

function portNumber(flag: string, value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) {
    throw new Error(`${flag} must be a port number (0 for any free port), got "${value}"`);
  }
  return port;
}

function banner(stack: Stack, beside: Beside): string {
  const lines = [
    `Serving ${stack.functions.length} function(s) on ${stack.url}`,
    ...stack.functions.map((name) => `  ${name.padEnd(26)} ${stack.url}/functions/v1/${name}`),
  ];
  if (stack.streamerToken) {
    lines.push(
      "Access token of the seeded streamer A (valid 24 h):",
      `  ${stack.streamerToken}`,
    );
  } else {
    lines.push("No access token: the demo streamer A is not in this database (--seed adds it).");
  }
  lines.push(...beside.describe);
  if (!Deno.env.get("SENDGRID_API_KEY")?.trim()) {
    lines.push(
      `SENDGRID_API_KEY is not set: emails are kept, not sent; see ${stack.url}/_dev/mail`,
    );
  }
  lines.push("Ctrl-C stops the server.");
  return lines.join("\n");
}

function stopOnSignals(stack: Stack, beside: Beside): void {
  let stopping = false;
  async function onSignal() {
    if (stopping) Deno.exit(130);
    stopping = true;
    console.log("Stopping…");
    try {
      await stopBeside(beside);
      await stack.stop();
      Deno.exit(0);
    } catch (error) {
      console.error(`Cannot stop cleanly: ${error instanceof Error ? error.message : error}`);
      Deno.exit(1);
    }
  }
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
}
