/**
 * The local server as function tests meet it over HTTP: `dev/server.ts` in a subprocess, on
 * a fresh database of its own, with secrets made for this run.
 */
import type postgres from "postgres";
import { freshDatabase } from "./database.ts";
import { TEST_SUPABASE_URL } from "./tokens.ts";

const REPO_ROOT = new URL("../../", import.meta.url);

/** Default `LIVEKIT_URL` of the test server: `.test` never resolves, so calls fail fast. */
export const TEST_LIVEKIT_URL = "http://livekit.test";
const READY_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const KEPT_LINES = 5_000;

/** What the server inherits from the test process: enough to find Deno's cache and CAs. */
const INHERITED = [
  "PATH",
  "HOME",
  "TMPDIR",
  "LANG",
  "DENO_DIR",
  "DENO_CERT",
  "DENO_TLS_CA_STORE",
  "XDG_CACHE_HOME",
  "SSL_CERT_FILE",
  "NODE_EXTRA_CA_CERTS",
];

/** Options of {@linkcode startServer}. */
export interface StartServerOptions {
  /** Settings for the server, over the defaults below; `""` counts as unset. */
  env?: Record<string, string>;
  /** Load the demo data into the fresh database. @default true */
  seed?: boolean;
  /** More flags for `dev/server.ts`, such as `["--functions-dir", "tests/fixtures/functions"]`. */
  args?: string[];
}

/** A running test server. */
export interface TestServer {
  /** Base URL, such as `http://127.0.0.1:40123`. */
  url: string;
  /** The fresh database the server uses. */
  databaseUrl: string;
  /**
   * A client of that database. On PGlite the server holds the one connection while it runs,
   * so use this before starting requests or after {@linkcode TestServer.stop}.
   */
  sql: postgres.Sql;
  /** The settings the server was given, test secrets included. */
  env: Record<string, string>;
  /** What the server printed so far (its log lines, one JSON object each). */
  output(): { stdout: string; stderr: string };
  /** Settles when the server process has ended, with its exit status. */
  exited: Promise<Deno.CommandStatus>;
  /** Stops the server (SIGTERM, then waits for it) and closes the database. */
  stop(): Promise<void>;
}

/** The server exited, or never said it was ready. */
export class ServerStartError extends Error {
  /** Exit code, or `null` when it was still running and had to be stopped. */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;

  constructor(message: string, details: { code: number | null; stdout: string; stderr: string }) {
    super(`${message}\n--- stderr ---\n${details.stderr}`);
    this.name = "ServerStartError";
    this.code = details.code;
    this.stdout = details.stdout;
    this.stderr = details.stderr;
  }
}

/** Starts `dev/server.ts --port 0` on a fresh database and waits for its `READY` line. */
export async function startServer(options: StartServerOptions = {}): Promise<TestServer> {
  const database = await freshDatabase({ seed: options.seed ?? true });
  const env: Record<string, string> = {
    DATABASE_URL: database.url,
    SUPABASE_URL: TEST_SUPABASE_URL,
    SUPABASE_JWT_SECRET: testSecret(),
    LINK_SIGNING_SECRET: testSecret(),
    // The session functions need LiveKit to boot; tests of them pass the double's settings.
    LIVEKIT_URL: TEST_LIVEKIT_URL,
    LIVEKIT_API_KEY: "test-api-key",
    LIVEKIT_API_SECRET: testSecret(),
    ...(database.kind === "pglite" ? { DATABASE_POOL_SIZE: "1" } : {}),
    ...options.env,
  };
  let server: ServerProcess;
  try {
    server = await spawnServer({ env, args: options.args });
  } catch (error) {
    await database.close();
    throw error;
  }
  let stopping: Promise<void> | undefined;
  return {
    url: server.url,
    databaseUrl: database.url,
    sql: database.sql,
    env,
    output: server.output,
    exited: server.exited,
    stop: () =>
      stopping ??= (async () => {
        try {
          await server.stop();
        } finally {
          await database.close();
        }
      })(),
  };
}

/** A fresh secret of 43 characters, so that nothing signed in one run works in another. */
export function testSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
}

/** Options of {@linkcode spawnServer}. */
export interface SpawnServerOptions {
  /** The server's whole environment, besides what it inherits to find Deno's cache and CAs. */
  env?: Record<string, string>;
  /** More flags for `dev/server.ts`. */
  args?: string[];
  /**
   * Run what `deno task dev` runs beside the functions (local bucket, LiveKit, egress,
   * schedules), as a newcomer's `deno task dev` does. @default false
   */
  localServices?: boolean;
  /** How long the server may take to print `READY`. @default 30000 */
  readyTimeoutMs?: number;
}

/** A running `dev/server.ts` process. */
export interface ServerProcess {
  url: string;
  output(): { stdout: string; stderr: string };
  exited: Promise<Deno.CommandStatus>;
  stop(): Promise<void>;
}

/**
 * Runs `dev/server.ts --port 0 --no-env-file` with exactly the given settings and waits for
 * its `READY` line; {@linkcode startServer} is this on a fresh database with test settings.
 * Throws {@linkcode ServerStartError} when the server exits first or takes too long.
 */
export async function spawnServer(options: SpawnServerOptions = {}): Promise<ServerProcess> {
  const env = options.env ?? {};
  const args = options.args ?? [];
  const inherited: Record<string, string> = {};
  for (const name of INHERITED) {
    const value = Deno.env.get(name);
    if (value !== undefined) inherited[name] = value;
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      ...compatibilityFlags(),
      "dev/server.ts",
      "--port",
      "0",
      "--no-env-file",
      // By default the functions alone: no local bucket, LiveKit or schedules (dev/server.ts).
      ...(options.localServices ? [] : ["--no-local-services"]),
      ...args,
    ],
    cwd: REPO_ROOT,
    // A clean environment: a DATABASE_URL or SUPABASE_DB_URL of the caller must not win.
    clearEnv: true,
    env: { ...inherited, NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();

  const stdout: string[] = [];
  const stderr: string[] = [];
  const ready = Promise.withResolvers<string>();
  // Both pipes are read to their end: a full pipe would block the server's logging.
  const reading = Promise.all([
    readLines(child.stdout, (line) => {
      keep(stdout, line);
      if (!line.startsWith("READY ")) return;
      try {
        ready.resolve(JSON.parse(line.slice("READY ".length)).url);
      } catch {
        ready.reject(new Error(`The local server printed a malformed READY line: ${line}`));
      }
    }),
    readLines(child.stderr, (line) => keep(stderr, line)),
  ]);
  const output = () => ({ stdout: stdout.join("\n"), stderr: stderr.join("\n") });
  const status = child.status;

  async function stop(): Promise<Deno.CommandStatus> {
    try {
      child.kill("SIGTERM");
    } catch {
      // Already exited.
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // Exited meanwhile.
        }
        resolve();
      }, STOP_TIMEOUT_MS);
    });
    try {
      await Promise.race([status, killed]);
      const result = await status;
      await reading;
      return result;
    } finally {
      clearTimeout(timer);
    }
  }

  const readyTimeoutMs = options.readyTimeoutMs ?? READY_TIMEOUT_MS;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    ready.promise.then((url) => ({ url }), (error: Error) => ({ error })),
    status.then((exit) => ({ exit })),
    new Promise<{ timeout: true }>((resolve) => {
      timer = setTimeout(() => resolve({ timeout: true }), readyTimeoutMs);
    }),
  ]);
  clearTimeout(timer);

  if ("url" in outcome) {
    return { url: outcome.url, output, exited: status, stop: async () => void await stop() };
  }
  if ("exit" in outcome) {
    await reading;
    throw new ServerStartError(
      `The local server exited with code ${outcome.exit.code} before it was ready.`,
      { code: outcome.exit.code, ...output() },
    );
  }
  await stop();
  throw new ServerStartError(
    "error" in outcome
      ? outcome.error.message
      : `The local server was not ready within ${readyTimeoutMs / 1000} s.`,
    { code: null, ...output() },
  );
}

/**
 * Deno older than 2.3 cannot read the project's lockfile (v5), and without the lockfile it
 * would resolve npm packages anew into the shared `node_modules`; such a Deno runs the
 * server with neither.
 */
function compatibilityFlags(): string[] {
  const [major, minor] = Deno.version.deno.split(".").map(Number);
  return major < 2 || (major === 2 && minor < 3) ? ["--no-lock", "--node-modules-dir=none"] : [];
}

async function readLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  let pending = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    pending += chunk;
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const line of lines) onLine(line);
  }
  if (pending) onLine(pending);
}

function keep(lines: string[], line: string): void {
  lines.push(line);
  if (lines.length > KEPT_LINES) lines.shift();
}
