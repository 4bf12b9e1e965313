/**
 * Recording benchmarks.
 *
 * - `recordingScenarios`: sign-upload-url and recording-url for `deno task bench` (the stack
 *   gets the GCS double's settings; both operations sign offline, so what is measured is the
 *   kernel, the database and the SDK's signing). Users rotate, so the rate limits (30 upload
 *   URLs and 120 play URLs a minute per user) never answer instead of the operation.
 * - Cold start, `deno run -A dev/bench_recordings.ts [--runs N]`: process start to first
 *   response of a function that loads the storage SDK (recording-url, whose first request
 *   signs a URL) next to one that does not (streams), each the first request of a fresh
 *   `deno run`, plus recording-url with the SDK imported eagerly at boot, which is what the
 *   lazy import saves. The database is a fresh one (`TEST_DATABASE_URL`, else PGlite).
 */
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import type { BenchContext, BenchScenario } from "./bench_scenarios.ts";
import { mintTokens, rotate } from "./bench_support.ts";
import { DEMO_RECORDING, DEMO_SESSION, STREAMER_A } from "./seed_ids.ts";

/** Users per scenario: more than a 5 s run at a few thousand requests per second needs. */
const POOL = 5_000;

/** The scenario names, for `--only`. */
export const RECORDING_SCENARIOS = ["sign-upload-url", "recording-url"];

interface Owner {
  user: string;
  session: string;
  recording: string;
}

/** Streamers with one ended session each, and one ready recording in it. */
async function createOwners(context: BenchContext, tag: string): Promise<Owner[]> {
  const rows = await context.sql<Owner[]>`
    with users as (
      insert into auth.users (id, email, email_confirmed_at)
      select gen_random_uuid(), ${tag} || '-' || n || '@bench.example.test', now()
        from generate_series(1, ${POOL}) as n
      returning id
    ), sessions as (
      insert into public.stream_sessions
        (id, streamer_id, room_name, record, status, end_reason, started_at, ended_at)
      select s.id, s.user_id, 'session-' || s.id, false, 'ended', 'streamer_ended', now(), now()
        from (select gen_random_uuid() as id, id as user_id from users) as s
      returning id, streamer_id
    )
    insert into public.recordings
      (id, session_id, streamer_id, source, status, object_path, content_type, size_bytes,
       expected_size_bytes, ready_at)
    select r.id, r.session_id, r.streamer_id, 'upload', 'ready',
           'uploads/' || r.streamer_id || '/' || r.session_id || '/' || r.id || '.mp4',
           'video/mp4', 1048576, 1048576, now()
      from (select gen_random_uuid() as id, id as session_id, streamer_id from sessions) as r
    returning streamer_id as "user", session_id as session, id as recording`;
  return [...rows];
}

/** sign-upload-url and recording-url. The stack must have storage configured. */
export async function recordingScenarios(context: BenchContext): Promise<BenchScenario[]> {
  const uploaderRows = await createOwners(context, "uploader");
  const playerRows = await createOwners(context, "player");
  const tokenOf = await mintTokens(
    context.jwtSecret,
    [...uploaderRows, ...playerRows].map((owner) => owner.user),
  );
  const uploaders = rotate(uploaderRows);
  const players = rotate(playerRows);
  const url = (name: string) => `${context.url}/functions/v1/${name}`;
  return [
    {
      name: "sign-upload-url",
      request: () => {
        const { user, session } = uploaders();
        return new Request(url("sign-upload-url"), {
          method: "POST",
          headers: {
            authorization: `Bearer ${tokenOf(user)}`,
            "content-type": "application/json",
          },
          body: JSON.stringify({
            sessionId: session,
            contentType: "video/mp4",
            sizeBytes: 1048576,
          }),
        });
      },
      expectStatus: [201],
    },
    {
      name: "recording-url",
      request: () => {
        const { user, recording } = players();
        return new Request(`${url("recording-url")}?recordingId=${recording}`, {
          headers: { authorization: `Bearer ${tokenOf(user)}` },
        });
      },
      expectStatus: [200],
    },
  ];
}

// Cold start --------------------------------------------------------------------------------

/** One kind of cold start: which function, and whether the SDK loads at boot. */
interface ColdStartCase {
  name: string;
  fn: "recording-url" | "streams";
  eagerStorage: boolean;
}

const CASES: ColdStartCase[] = [
  { name: "streams (no storage SDK)", fn: "streams", eagerStorage: false },
  { name: "recording-url (SDK loaded lazily)", fn: "recording-url", eagerStorage: false },
  { name: "recording-url (SDK imported at boot)", fn: "recording-url", eagerStorage: true },
];

/** Median timings of one case, in milliseconds from process start. */
export interface ColdStartResult {
  name: string;
  /** Until the server listens (module graph loaded, configuration parsed). */
  readyMs: number;
  /** Until the first request's response, which for recording-url signs a URL. */
  firstResponseMs: number;
}

/** Options of {@linkcode measureColdStart}. */
export interface ColdStartOptions {
  /** Settings of the child processes (database, secrets, storage). */
  env: Record<string, string>;
  /** Bearer token of the seeded streamer A. */
  token: string;
  /** Measured runs per case, after one unmeasured warm-up each. @default {7} */
  runs?: number;
}

/**
 * Starts each case as a fresh `deno run` of this module in `--serve` mode, `runs` times
 * (interleaved), and returns the medians.
 */
export async function measureColdStart(options: ColdStartOptions): Promise<ColdStartResult[]> {
  const runs = options.runs ?? 7;
  const samples = new Map(CASES.map((c) => [c.name, [] as [number, number][]]));
  for (let round = -1; round < runs; round++) {
    for (const c of CASES) {
      const sample = await startOnce(c, options);
      if (round >= 0) samples.get(c.name)!.push(sample);
    }
  }
  return CASES.map((c) => {
    const taken = samples.get(c.name)!;
    return {
      name: c.name,
      readyMs: median(taken.map(([ready]) => ready)),
      firstResponseMs: median(taken.map(([, first]) => first)),
    };
  });
}

async function startOnce(c: ColdStartCase, options: ColdStartOptions): Promise<[number, number]> {
  const inherited: Record<string, string> = {};
  for (const name of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME", "TMPDIR"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) inherited[name] = value;
  }
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      import.meta.filename!,
      "--serve",
      c.fn,
      ...(c.eagerStorage ? ["--eager-storage"] : []),
    ],
    clearEnv: true,
    env: { ...inherited, ...options.env },
    stdout: "piped",
    stderr: "null",
  }).spawn();
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let buffered = "";
    let port: number | undefined;
    while (port === undefined) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`${c.name}: the server exited before it was ready`);
      buffered += value;
      port = Number(/^READY (\d+)$/m.exec(buffered)?.[1]) || undefined;
    }
    const ready = performance.now() - started;
    reader.releaseLock();
    child.stdout.pipeTo(new WritableStream()).catch(() => {});
    const query = c.fn === "streams"
      ? `sessionId=${DEMO_SESSION}`
      : `recordingId=${DEMO_RECORDING}`;
    const response = await fetch(`http://127.0.0.1:${port}/functions/v1/${c.fn}?${query}`, {
      headers: { authorization: `Bearer ${options.token}` },
    });
    await response.arrayBuffer();
    const first = performance.now() - started;
    if (response.status !== 200) throw new Error(`${c.name}: answered ${response.status}`);
    return [ready, first];
  } finally {
    child.kill("SIGKILL");
    await child.status;
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted[Math.floor(sorted.length / 2)];
  return Math.round(middle * 10) / 10;
}

/** The child: serves one function on a free port and says `READY <port>`. */
async function serve(fn: string, eagerStorage: boolean): Promise<void> {
  if (eagerStorage) await import("@google-cloud/storage");
  const entry = pathToFileURL(`${import.meta.dirname}/../supabase/functions/${fn}/index.ts`).href;
  const { default: served } = await import(entry);
  Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: ({ port }) => console.log(`READY ${port}`),
  }, served.fetch);
}

async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      serve: { type: "string" },
      "eager-storage": { type: "boolean", default: false },
      runs: { type: "string", default: "7" },
    },
  });
  if (values.serve) return await serve(values.serve, values["eager-storage"] === true);

  // Imported here: the child never needs them.
  const { freshDatabase } = await import("../tests/support/database.ts");
  const { startGcsDouble } = await import("../tests/support/gcs_double.ts");
  const database = await freshDatabase();
  const gcs = await startGcsDouble();
  try {
    const jwtSecret = crypto.randomUUID().repeat(2);
    const token = (await mintTokens(jwtSecret, [STREAMER_A]))(STREAMER_A);
    const results = await measureColdStart({
      runs: Number(values.runs ?? "7"),
      token,
      env: {
        DATABASE_URL: database.url,
        DATABASE_POOL_SIZE: "1",
        SUPABASE_URL: "http://127.0.0.1:9",
        SUPABASE_JWT_SECRET: jwtSecret,
        LINK_SIGNING_SECRET: crypto.randomUUID().repeat(2),
        ...gcs.env,
      },
    });
    const [plain, lazy, eager] = results;
    const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
    console.log(JSON.stringify(
      {
        database: database.kind,
        deno: Deno.version.deno,
        results,
        ratios: {
          firstResponseLazyVsPlain: ratio(lazy.firstResponseMs, plain.firstResponseMs),
          firstResponseEagerVsPlain: ratio(eager.firstResponseMs, plain.firstResponseMs),
          readyEagerVsLazy: ratio(eager.readyMs, lazy.readyMs),
        },
      },
      null,
      2,
    ));
  } finally {
    await gcs.close();
    await database.close();
  }
}

if (import.meta.main) await main(Deno.args);
