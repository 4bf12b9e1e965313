/**
 * The local stack behind `deno task dev`, the HTTP tests and the bench: a database (yours,
 * or an embedded PGlite), development defaults for the settings, and every function of
 * `supabase/functions/` served on one port under `/functions/v1/<name>` like the Supabase
 * gateway.
 */
import postgres from "postgres";
import { SignJWT } from "jose";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { errorResponse, HttpError, notFound } from "../shared/kernel/errors.ts";
import * as databases from "../shared/kernel/db.ts";
import { requestIdOf } from "../shared/kernel/http.ts";
import { prepareDatabase } from "./database.ts";
import { loadEnvFile } from "./env_file.ts";
import { createMailViewer, MAIL_VIEWER_PATH } from "./mail_viewer.ts";
import { createViewerAssets, isViewerPath } from "./viewer_assets.ts";
import { STREAMER_A } from "./seed_ids.ts";
import { applyDefaults, DEFAULT_LIVEKIT_PORT, portFromEnv, setting } from "./stack_settings.ts";

/** The repository root, with a trailing separator. */
export const REPO_ROOT: string = fileURLToPath(new URL("..", import.meta.url));

const EMBEDDED_CLOSE_TIMEOUT_MS = 3000;
const FUNCTION_PATH = /^\/functions\/v1\/([^/]+)(?:\/|$)/;

/** Options of {@linkcode startStack}. */
export interface StartStackOptions {
  /** Port to listen on; `0` picks a free one. @default `PORT` from the environment, else 54321 */
  port?: number;
  /** Interface to listen on. @default "127.0.0.1" */
  hostname?: string;
  /** Settings written to the environment first; they win over the real environment and `.env`. */
  env?: Record<string, string>;
  /** The `.env` file to read, or `false` to read none. @default `.env` at the repository root */
  envFile?: string | false;
  /**
   * Folder of local state: the embedded database in `pglite/`, generated secrets in
   * `dev-secrets.json`. @default `.data` at the repository root
   */
  dataDir?: string;
  /** Wipe the embedded database before starting it. @default false */
  reset?: boolean;
  /**
   * Port of the local LiveKit in the development default `LIVEKIT_URL` (used only when no
   * LiveKit setting is given); `0` picks a free one, so two stacks can run side by side.
   * @default 7880
   */
  livekitPort?: number;
  /** Load the demo data of `supabase/seed.sql`. @default true on the embedded database, else false */
  seed?: boolean;
  /**
   * Keep generated development secrets in `dev-secrets.json`, so tokens survive restarts;
   * `false` keeps them in memory only. @default true
   */
  persistSecrets?: boolean;
  /** The folder holding one folder per function. @default `supabase/functions` at the repository root */
  functionsDir?: string;
  /** Receives progress lines meant for people; never a secret. @default console.log */
  log?: (line: string) => void;
}

/** A running local stack. */
export interface Stack {
  /** Base URL of the server, such as `http://127.0.0.1:54321`. */
  url: string;
  /** The database the functions use. */
  databaseUrl: string;
  /** Whether the database is the embedded PGlite. */
  embedded: boolean;
  /** Names of the served functions, sorted. */
  functions: string[];
  /** Names of the settings filled with development defaults (never their values). */
  defaultsApplied: string[];
  /** An access token of the seeded streamer A, when that user exists and HS256 is configured. */
  streamerToken?: string;
  /** Stops the HTTP server, closes the database pools and the embedded database. Idempotent. */
  stop(): Promise<void>;
}

type FetchHandler = Deno.ServeDefaultExport["fetch"];

const viewerAssets = createViewerAssets();

/** The mailbox of captured emails (`dev/mail_viewer.ts`). */
type MailViewer = (request: Request) => Promise<Response>;

interface Resources {
  server?: Deno.HttpServer<Deno.NetAddr>;
  embedded?: { db: { close(): Promise<void> }; close(): Promise<void> };
}

/**
 * Starts the local stack. Functions read their settings at module load, so the environment
 * is completed first (explicit `env`, the real environment, `.env`, development defaults, in
 * that order of precedence) and the functions are imported last. A function that cannot
 * start makes the whole stack fail with `Cannot start <name>: <reason>`.
 */
export async function startStack(options: StartStackOptions = {}): Promise<Stack> {
  const log = options.log ?? console.log;
  const resources: Resources = {};
  try {
    for (const [name, value] of Object.entries(options.env ?? {})) Deno.env.set(name, value);
    if (options.envFile !== false) {
      const envFile = options.envFile ?? join(REPO_ROOT, ".env");
      const fromFile = await loadEnvFile(envFile);
      if (fromFile.length > 0) log(`Settings from ${envFile}: ${fromFile.join(", ")}`);
    }

    // Listen before anything else: with port 0 the URL defaults below need the chosen port,
    // and a port already in use should fail before the slow database start.
    const served: { routes?: Map<string, FetchHandler>; mail?: MailViewer } = {};
    const hostname = options.hostname ?? "127.0.0.1";
    resources.server = Deno.serve(
      { hostname, port: options.port ?? portFromEnv(), onListen() {} },
      (request, info) => route(request, info, served.routes, served.mail),
    );
    const url = `http://${displayHost(hostname)}:${resources.server.addr.port}`;

    const dataDir = options.dataDir ?? join(REPO_ROOT, ".data");
    const secretsFile = options.persistSecrets === false
      ? false
      : join(dataDir, "dev-secrets.json");
    const defaultsApplied = await applyDefaults(url, {
      secretsFile,
      livekitPort: options.livekitPort ?? DEFAULT_LIVEKIT_PORT,
    });
    if (defaultsApplied.length > 0) log(`Development defaults for: ${defaultsApplied.join(", ")}`);

    const configured = setting("SUPABASE_DB_URL") ?? setting("DATABASE_URL");
    let databaseUrl: string;
    if (configured) {
      databaseUrl = configured;
      if (options.reset) log("Ignoring --reset: it only wipes the embedded database.");
      log("Database: the one in SUPABASE_DB_URL / DATABASE_URL");
    } else {
      const pgliteDir = join(dataDir, "pglite");
      if (options.reset) await removeIfPresent(pgliteDir);
      // Imported here: PGlite is heavy, and a stack on your database never needs it.
      const { startEmbeddedPostgres } = await import("./pglite.ts");
      const embedded = await startEmbeddedPostgres({ dataDir: pgliteDir });
      resources.embedded = embedded;
      databaseUrl = embedded.url;
      // PGlite serves one connection at a time, so every function shares a pool of one.
      Deno.env.set("DATABASE_URL", databaseUrl);
      Deno.env.set("DATABASE_POOL_SIZE", "1");
      log(`Database: embedded PGlite in ${pgliteDir}`);
    }

    const seed = options.seed ?? !configured;
    const streamerEmail = await prepare(databaseUrl, { seed, log });
    const functionsDir = options.functionsDir ?? join(REPO_ROOT, "supabase", "functions");
    const routes = await loadFunctions(functionsDir);
    served.routes = routes;
    served.mail = createMailViewer(databaseUrl);

    const jwtSecret = setting("SUPABASE_JWT_SECRET");
    const streamerToken = jwtSecret && streamerEmail
      ? await signStreamerToken(jwtSecret, streamerEmail)
      : undefined;

    let stopping: Promise<void> | undefined;
    return {
      url,
      databaseUrl,
      embedded: !configured,
      functions: [...routes.keys()],
      defaultsApplied,
      streamerToken,
      stop: () => stopping ??= release(resources),
    };
  } catch (error) {
    await release(resources).catch(() => {});
    throw error;
  }
}

async function route(
  request: Request,
  info: Deno.ServeHandlerInfo<Deno.NetAddr>,
  routes: Map<string, FetchHandler> | undefined,
  mail?: MailViewer,
): Promise<Response> {
  const { pathname } = new URL(request.url);
  // The web viewer's static page (`dev/viewer_assets.ts`), built on demand.
  if (isViewerPath(pathname)) return await viewerAssets(request);
  if (mail && (pathname === MAIL_VIEWER_PATH || pathname.startsWith(`${MAIL_VIEWER_PATH}/`))) {
    return await mail(request).catch(() =>
      new Response("Cannot read the captured emails.\n", { status: 500 })
    );
  }
  if (!routes) {
    return errorResponse(
      new HttpError(503, "server_starting", "The local server is still starting; try again.", {
        headers: { "retry-after": "1" },
      }),
      requestIdOf(request),
    );
  }
  const name = FUNCTION_PATH.exec(pathname)?.[1];
  const handler = name === undefined ? undefined : routes.get(name);
  if (!handler) {
    return errorResponse(notFound(`No function is served at ${pathname}.`), requestIdOf(request));
  }
  try {
    return await handler(request, info);
  } catch (error) {
    // The kernel answers every error itself; reaching this means a function escaped it.
    const requestId = requestIdOf(request);
    console.error(JSON.stringify({
      level: "error",
      requestId,
      function: name,
      message: "The function threw instead of answering",
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    }));
    return errorResponse(
      new HttpError(500, "internal_error", "Something went wrong on our side; try again later."),
      requestId,
    );
  }
}

function displayHost(hostname: string): string {
  if (hostname === "0.0.0.0" || hostname === "::") return "127.0.0.1";
  return hostname.includes(":") ? `[${hostname}]` : hostname;
}

async function removeIfPresent(path: string): Promise<void> {
  try {
    await Deno.remove(path, { recursive: true });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/**
 * Applies the baseline, migrations and (optionally) the seed through a client of its own,
 * closed before the functions connect: PGlite takes one connection at a time. Returns the
 * email of streamer A when that user exists.
 */
async function prepare(
  databaseUrl: string,
  options: { seed: boolean; log: (line: string) => void },
): Promise<string | undefined> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    const { applied } = await prepareDatabase(sql, { seed: options.seed, log: options.log });
    options.log(
      applied.length > 0 ? `Database: applied ${applied.join(", ")}` : "Database: up to date",
    );
    const rows = await sql<{ email: string | null }[]>`
      select email from auth.users where id = ${STREAMER_A}
    `;
    return rows[0]?.email ?? undefined;
  } finally {
    await sql.end();
  }
}

async function loadFunctions(functionsDir: string): Promise<Map<string, FetchHandler>> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(functionsDir)) {
    // Like the Supabase CLI, folders starting with `_` or `.` are not functions.
    if (!entry.isDirectory || /^[._]/.test(entry.name)) continue;
    if (await isFile(join(functionsDir, entry.name, "index.ts"))) names.push(entry.name);
  }
  names.sort();
  const routes = new Map<string, FetchHandler>();
  for (const name of names) {
    let entry: { default?: { fetch?: unknown } };
    try {
      entry = await import(pathToFileURL(join(functionsDir, name, "index.ts")).href);
    } catch (error) {
      throw new Error(`Cannot start ${name}: ${messageOf(error)}`, { cause: error });
    }
    const served = entry.default;
    if (typeof served?.fetch !== "function") {
      throw new Error(
        `Cannot start ${name}: its index.ts has no \`export default { fetch }\``,
      );
    }
    routes.set(name, served.fetch.bind(served) as FetchHandler);
  }
  return routes;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

function signStreamerToken(secret: string, email: string): Promise<string> {
  const supabaseUrl = setting("SUPABASE_URL")!.replace(/\/+$/, "");
  return new SignJWT({ role: "authenticated", email })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(STREAMER_A)
    .setAudience("authenticated")
    .setIssuer(`${supabaseUrl}/auth/v1`)
    .setIssuedAt()
    .setExpirationTime("24h")
    .sign(new TextEncoder().encode(secret));
}

/** Stops in dependency order: no new requests, then the pools, then the database itself. */
async function release(resources: Resources): Promise<void> {
  const problems: unknown[] = [];
  async function attempt(step: () => Promise<unknown> | undefined) {
    try {
      await step();
    } catch (error) {
      problems.push(error);
    }
  }
  await attempt(() => resources.server?.shutdown());
  await attempt(() => closeAllDatabases());
  if (resources.embedded) await attempt(() => closeEmbedded(resources.embedded!));
  if (problems.length > 0) {
    throw new AggregateError(problems, "Cannot stop the local stack cleanly");
  }
}

/**
 * Closes the embedded database. Under Deno 2.1's node:net the socket server's close callback
 * can stay pending for good after a client has come and gone, and nothing else keeps the
 * process alive; PGlite itself is then closed directly, so its files are left consistent.
 */
async function closeEmbedded(
  embedded: { db: { close(): Promise<void> }; close(): Promise<void> },
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stuck = new Promise<true>((resolve) => {
    timer = setTimeout(() => resolve(true), EMBEDDED_CLOSE_TIMEOUT_MS);
  });
  try {
    if (await Promise.race([embedded.close().then(() => false), stuck])) {
      await embedded.db.close();
    }
  } finally {
    clearTimeout(timer);
  }
}

function closeAllDatabases(): Promise<unknown> | undefined {
  // Guarded: the pool registry of `shared/kernel/db.ts` may not offer this yet.
  const close = (databases as Record<string, unknown>).closeAllDatabases;
  return typeof close === "function" ? close() : undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
