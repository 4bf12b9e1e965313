/**
 * `deno task dev`: serves every function of `supabase/functions/` on one port, like the
 * Supabase gateway, over your database or an embedded one. See {@linkcode startStack}.
 *
 * Flags: `--port N` (0: any free port), `--reset` (wipe the embedded database first),
 * `--seed` / `--no-seed` (demo data; default: only into the embedded database),
 * `--no-env-file` (ignore `.env`), `--data-dir DIR` (local state, default `.data`),
 * `--functions-dir DIR`.
 *
 * Harnesses wait for the one stdout line `READY {"url":"http://127.0.0.1:PORT"}`.
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { type Stack, startStack, type StartStackOptions } from "./stack.ts";

const USAGE = `Usage: deno task dev [--port N] [--reset] [--seed | --no-seed] [--no-env-file]
                     [--data-dir DIR] [--functions-dir DIR]`;

if (import.meta.main) await main(Deno.args);

async function main(args: string[]): Promise<void> {
  let options: StartStackOptions;
  try {
    options = parseFlags(args);
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : error}\n${USAGE}`);
    Deno.exit(2);
  }

  let stack: Stack;
  try {
    stack = await startStack(options);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    console.error(
      message.startsWith("Cannot ") ? message : `Cannot start the local stack: ${message}`,
    );
    Deno.exit(1);
  }

  stopOnSignals(stack);
  console.log(banner(stack));
  console.log(`READY ${JSON.stringify({ url: stack.url })}`);
}

function parseFlags(args: string[]): StartStackOptions {
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
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const options: StartStackOptions = { reset: values.reset };
  if (values.port !== undefined) {
    const port = Number(values.port);
    if (!/^\d+$/.test(values.port) || port > 65535) {
      throw new Error(`--port must be a port number (0 for any free port), got "${values.port}"`);
    }
    options.port = port;
  }
  if (values.seed && values["no-seed"]) throw new Error("--seed and --no-seed exclude each other");
  if (values.seed) options.seed = true;
  if (values["no-seed"]) options.seed = false;
  if (values["no-env-file"]) options.envFile = false;
  if (values["data-dir"]) options.dataDir = resolve(values["data-dir"]);
  if (values["functions-dir"]) options.functionsDir = resolve(values["functions-dir"]);
  return options;
}

function banner(stack: Stack): string {
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
  if (stack.defaultsApplied.includes("LIVEKIT_URL")) {
    lines.push(
      "LiveKit is not configured, so the functions expect one on ws://127.0.0.1:7880 with the",
      "  key devkey and the LIVEKIT_API_SECRET of .data/dev-secrets.json (livekit-server --dev",
      '  --keys "devkey: <secret>"), or set LIVEKIT_* in .env. Until then LiveKit calls answer 503.',
    );
  }
  if (!Deno.env.get("SENDGRID_API_KEY")?.trim()) {
    lines.push(
      `SENDGRID_API_KEY is not set: emails are kept, not sent; see ${stack.url}/_dev/mail`,
    );
  }
  lines.push("Ctrl-C stops the server.");
  return lines.join("\n");
}

function stopOnSignals(stack: Stack): void {
  let stopping = false;
  async function onSignal() {
    if (stopping) Deno.exit(130);
    stopping = true;
    console.log("Stopping…");
    try {
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
