/**
 * `deno task bench`: latency and throughput of each scenario of `bench_scenarios.ts` on real
 * PostgreSQL, next to a baseline that does the least a request can do (one `select 1`
 * through the same pool, behind the same kind of server), measured right before it. The ratios
 * say what the request kernel and the operation cost on top; the load generator shares the
 * process and its cores with the servers, which weighs on baseline and scenarios alike.
 *
 * Flags: `--concurrency N` (16), `--duration S` (5), `--warmup S` (1), `--only NAME`. The
 * functions' pool has as many connections as requests in flight unless `DATABASE_POOL_SIZE`
 * says otherwise.
 * Database: a fresh one on `BENCH_DATABASE_URL`, else `TEST_DATABASE_URL`, else
 * `postgres://postgres@127.0.0.1:5432/postgres`, dropped afterwards. Results go to stderr
 * and `bench-results.json`; stdout carries the functions' own log lines, whose cost is part
 * of what is measured (`deno task bench > /dev/null` hides them).
 */
import postgres from "postgres";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { getDatabase } from "../shared/kernel/db.ts";
import { type BenchScenario, benchScenarios } from "./bench_scenarios.ts";
import { REPO_ROOT, startStack } from "./stack.ts";
import {
  formatNotificationFigures,
  NOTIFICATION_BENCH,
  type NotificationFigures,
  startNotificationBench,
} from "./bench_notifications.ts";
import { startLiveKitProcess } from "./livekit_double_process.ts";
import { type NotificationsProcess, startNotificationsProcess } from "./notifications_process.ts";
import { cpuPerRequest, type CpuSample, sampleCpu } from "./bench_cpu.ts";
import { settle, startAutoAnalyze } from "./bench_maintenance.ts";
import { startGcsDouble } from "../tests/support/gcs_double.ts";

const DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres";

/** How one scenario, or the baseline, performed. */
export interface Measurement {
  name: string;
  requests: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  requestsPerSecond: number;
  /**
   * CPU per request in the measured window (Linux only): `functionsMs` of this process, which
   * runs the load generator and the functions, `postgresMs` of the Postgres server and
   * `childrenMs` of the processes the bench started (the LiveKit double, send-notification).
   */
  cpu?: { functionsMs: number; postgresMs: number; childrenMs: number };
}

/** A scenario's figures next to the baseline's: above 1 is slower (or, for rate, faster). */
export interface ComparedMeasurement extends Measurement {
  /** The baseline measured right before it, which the ratios divide by. */
  baseline: Measurement;
  p50Ratio: number;
  p99Ratio: number;
  rateRatio: number;
}

/** Options of {@linkcode measure}. */
export interface MeasureOptions {
  /** Requests in flight at once. @default 16 */
  concurrency?: number;
  /** Measured time in milliseconds. @default 5000 */
  durationMs?: number;
  /** Unmeasured time first, for connections and JIT. @default 1000 */
  warmupMs?: number;
  /** Stops early, for Ctrl-C. */
  signal?: AbortSignal;
}

/**
 * Keeps `concurrency` requests in flight for warm-up plus duration and keeps the latencies
 * of the requests that completed within the measured window.
 */
export async function measure(
  scenario: BenchScenario,
  options: MeasureOptions = {},
): Promise<Measurement> {
  const { concurrency = 16, durationMs = 5000, warmupMs = 1000, signal } = options;
  const latencies: number[] = [];
  let errors = 0;
  const from = performance.now() + warmupMs;
  const until = from + durationMs;
  // CPU is sampled when the measured window opens and when it closes.
  let cpuFrom: Promise<CpuSample | undefined> = Promise.resolve(undefined);
  let cpuTo: Promise<CpuSample | undefined> = Promise.resolve(undefined);
  const opening = setTimeout(() => cpuFrom = sampleCpu(), warmupMs);
  let closed = false;
  const closing = setTimeout(() => {
    closed = true;
    cpuTo = sampleCpu();
  }, warmupMs + durationMs);

  async function worker() {
    while (performance.now() < until && !signal?.aborted) {
      const request = await scenario.request();
      const started = performance.now();
      let ok: boolean;
      try {
        const response = await fetch(request);
        await response.arrayBuffer();
        ok = scenario.expectStatus
          ? scenario.expectStatus.includes(response.status)
          : response.status < 400;
      } catch {
        ok = false;
      }
      const ended = performance.now();
      if (ended < from || ended > until) continue;
      latencies.push(ended - started);
      if (!ok) errors++;
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  clearTimeout(opening);
  clearTimeout(closing);
  // Timers run late under load: the last requests may have ended before this one fired.
  if (!closed) cpuTo = sampleCpu();
  const cpu = signal?.aborted
    ? undefined
    : cpuPerRequest(await cpuFrom, await cpuTo, latencies.length);

  latencies.sort((a, b) => a - b);
  return {
    name: scenario.name,
    requests: latencies.length,
    errors,
    p50Ms: round(percentile(latencies, 0.5)),
    p99Ms: round(percentile(latencies, 0.99)),
    requestsPerSecond: round(latencies.length / (durationMs / 1000)),
    ...(cpu ? { cpu } : {}),
  };
}

/** Nearest-rank percentile of sorted values; `NaN` when there are none. */
export function percentile(sorted: number[], fraction: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)];
}

/** Puts a scenario next to the baseline. */
export function compare(result: Measurement, baseline: Measurement): ComparedMeasurement {
  return {
    ...result,
    baseline,
    p50Ratio: round(result.p50Ms / baseline.p50Ms),
    p99Ratio: round(result.p99Ms / baseline.p99Ms),
    rateRatio: round(result.requestsPerSecond / baseline.requestsPerSecond),
  };
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

if (import.meta.main) await main(Deno.args);

async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      concurrency: { type: "string", default: "16" },
      duration: { type: "string", default: "5" },
      warmup: { type: "string", default: "1" },
      only: { type: "string" },
    },
  });
  const concurrency = positiveNumber("--concurrency", values.concurrency, { integer: true });
  const duration = positiveNumber("--duration", values.duration);
  const warmup = positiveNumber("--warmup", values.warmup, { zero: true });

  const server = Deno.env.get("BENCH_DATABASE_URL") || Deno.env.get("TEST_DATABASE_URL") ||
    DEFAULT_SERVER;
  const admin = postgres(server, { max: 1, onnotice: () => {} });
  const name = `bench_${Date.now()}_${crypto.randomUUID().slice(0, 8)}`;
  const databaseUrl = new URL(server);
  databaseUrl.pathname = `/${name}`;

  const aborted = new AbortController();
  const onInterrupt = () => aborted.abort();
  Deno.addSignalListener("SIGINT", onInterrupt);
  try {
    await admin.unsafe(`create database "${name}"`);
  } catch (error) {
    await admin.end();
    Deno.removeSignalListener("SIGINT", onInterrupt);
    console.error(`Cannot create the bench database on ${redact(server)}: ${messageOf(error)}`);
    Deno.exit(1);
  }

  let stack: Awaited<ReturnType<typeof startStack>> | undefined;
  let baselineServer: Deno.HttpServer<Deno.NetAddr> | undefined;
  // LiveKit's API is the loopback double, as in the tests (no LiveKit server runs here), in
  // a process of its own as LiveKit is not in the functions' isolate.
  const livekit = await startLiveKitProcess();
  // And GCS's: the recording functions sign URLs offline and need no bucket to be measured.
  const gcs = await startGcsDouble();
  // And SendGrid's: the email bench counts what reaches it.
  const notifications = startNotificationBench();
  const jwtSecret = benchSecret();
  const setupSql = postgres(databaseUrl.href, { max: 4, onnotice: () => {} });
  let sender: NotificationsProcess | undefined;
  try {
    const settings = {
      SUPABASE_DB_URL: databaseUrl.href,
      DATABASE_URL: databaseUrl.href,
      SUPABASE_JWT_SECRET: jwtSecret,
      LINK_SIGNING_SECRET: benchSecret(),
      ...livekit.env,
      ...gcs.env,
    };
    // The drains the measured functions request go to send-notification in a process of its
    // own (it migrates the database first), as they go to its own isolates in production.
    sender = await startNotificationsProcess(settings);
    stack = await startStack({
      port: 0,
      envFile: false,
      persistSecrets: false,
      seed: true,
      env: {
        ...settings,
        // A connection per request in flight: what is measured is the operation, not a wait
        // for a free connection (the baseline shares the same pool).
        DATABASE_POOL_SIZE: Deno.env.get("DATABASE_POOL_SIZE") ?? String(concurrency),
        ...notifications.env,
        ...sender.env,
      },
      log: (line) => console.error(line),
    });

    // The same pool the functions use: getDatabase is memoized per URL.
    const { sql } = getDatabase(databaseUrl.href);
    baselineServer = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async () => {
      await sql`select 1`;
      return Response.json({ ok: true });
    });
    const baselineUrl = `http://127.0.0.1:${baselineServer.addr.port}/`;
    const context = {
      url: stack.url,
      streamerToken: stack.streamerToken,
      sql: setupSql,
      jwtSecret,
      livekit,
    };
    const scenarios = (await benchScenarios(context, { only: values.only }))
      .filter((scenario) => !values.only || scenario.name === values.only);
    if (scenarios.length === 0 && values.only !== NOTIFICATION_BENCH) {
      throw new Error(`No scenario is named "${values.only}"`);
    }

    const options: MeasureOptions = {
      concurrency,
      durationMs: duration * 1000,
      warmupMs: warmup * 1000,
      signal: aborted.signal,
    };
    console.error(
      `Measuring ${scenarios.length} scenarios, each after a baseline, in runs of ${
        warmup + duration
      } s at concurrency ${concurrency}…`,
    );
    // Each run on a settled database, with statistics kept up to date as autovacuum would.
    const maintained = async (scenario: BenchScenario) => {
      await settle(setupSql);
      const autoAnalyze = startAutoAnalyze(setupSql);
      try {
        return await measure(scenario, options);
      } finally {
        await autoAnalyze.stop();
      }
    };
    // A baseline right before each scenario: this machine's speed drifts over a whole run, and
    // a ratio should compare measurements taken under the same conditions.
    const measureBaseline = () =>
      maintained({
        name: "baseline (select 1)",
        request: () => new Request(baselineUrl),
        expectStatus: [200],
      });
    let baseline = await measureBaseline();
    const results: ComparedMeasurement[] = [];
    const checks: Record<string, unknown> = {};
    for (const [index, scenario] of scenarios.entries()) {
      if (aborted.signal.aborted) break;
      if (index > 0) baseline = await measureBaseline();
      results.push(compare(await maintained(scenario), baseline));
      if (scenario.check) {
        checks[scenario.name] = await scenario.check();
        console.error(`${scenario.name}: ${JSON.stringify(checks[scenario.name])}`);
      }
    }

    let emails: NotificationFigures | undefined;
    if (!aborted.signal.aborted && (!values.only || values.only === NOTIFICATION_BENCH)) {
      emails = await notifications.run({ url: stack.url, databaseUrl: databaseUrl.href, baseline });
    }

    // stderr, like the progress lines: stdout carries the functions' request logs.
    console.error(table(baseline, results));
    if (emails) console.error(formatNotificationFigures(emails));
    const report = {
      createdAt: new Date().toISOString(),
      deno: Deno.version.deno,
      database: "postgres",
      concurrency,
      durationSeconds: duration,
      warmupSeconds: warmup,
      scenarios: results,
      checks,
      notifications: emails,
    };
    const path = join(REPO_ROOT, "bench-results.json");
    await Deno.writeTextFile(path, JSON.stringify(report, null, 2) + "\n");
    console.error(`Wrote ${path}`);
    const measured = results.length > 0 ? results.flatMap((r) => [r.baseline, r]) : [baseline];
    const failed = measured.filter((result) => result.errors > 0);
    if (failed.length > 0) {
      console.error(`Requests failed in: ${failed.map((result) => result.name).join(", ")}`);
      Deno.exitCode = 1;
    }
  } catch (error) {
    console.error(messageOf(error));
    Deno.exitCode = 1;
  } finally {
    Deno.removeSignalListener("SIGINT", onInterrupt);
    await baselineServer?.shutdown();
    await stack?.stop();
    await sender?.close();
    await setupSql.end();
    await livekit.close();
    await gcs.close();
    await notifications.close();
    await admin.unsafe(`drop database if exists "${name}" with (force)`);
    await admin.end();
  }
}

/** A secret for this run only. */
function benchSecret(): string {
  return crypto.randomUUID().replaceAll("-", "") + crypto.randomUUID().replaceAll("-", "");
}

function table(lastBaseline: Measurement, results: ComparedMeasurement[]): string {
  const header = [
    "scenario",
    "p50 ms",
    "p99 ms",
    "req/s",
    "p50 x",
    "p99 x",
    "rate x",
    "errors",
    "cpu ms fn",
    "cpu ms pg",
    "cpu ms aux",
  ];
  const cpu = (m: Measurement) => [
    m.cpu?.functionsMs ?? "-",
    m.cpu?.postgresMs ?? "-",
    m.cpu?.childrenMs ?? "-",
  ];
  const baselineRow = (b: Measurement) => [
    b.name,
    b.p50Ms,
    b.p99Ms,
    b.requestsPerSecond,
    1,
    1,
    1,
    b.errors,
    ...cpu(b),
  ];
  // Each scenario under the baseline its ratios divide by.
  const rows = (results.length === 0 ? [baselineRow(lastBaseline)] : results.flatMap((r) => [
    baselineRow(r.baseline),
    [
      r.name,
      r.p50Ms,
      r.p99Ms,
      r.requestsPerSecond,
      r.p50Ratio,
      r.p99Ratio,
      r.rateRatio,
      r.errors,
      ...cpu(r),
    ],
  ])).map((row) => row.map(String));
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => row[column].length))
  );
  return [header, ...rows].map((row) =>
    row.map((cell, column) => column === 0 ? cell.padEnd(widths[0]) : cell.padStart(widths[column]))
      .join("  ")
  ).join("\n");
}

function positiveNumber(
  flag: string,
  // Possibly undefined to the type checker: with npm packages' Node types in the program (the
  // storage SDK's), parseArgs no longer narrows options that have a default.
  raw: string | undefined,
  options: { integer?: boolean; zero?: boolean } = {},
): number {
  const value = Number(raw);
  const valid = Number.isFinite(value) && (options.zero ? value >= 0 : value > 0) &&
    (!options.integer || Number.isInteger(value));
  if (!valid) {
    console.error(`${flag} must be a ${options.integer ? "whole " : ""}number, got "${raw}"`);
    Deno.exit(2);
  }
  return value;
}

/** The server URL without its password, for messages. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.href;
  } catch {
    return "the configured server";
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
