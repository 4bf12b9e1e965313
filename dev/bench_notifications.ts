/**
 * The guardian-email part of `deno task bench`, against the SendGrid double on loopback:
 *
 * - drain rate: emails per second that `send-notification` hands to SendGrid, with one drain
 *   at a time and with several at once (as overlapping scheduled and requested drains run);
 * - ready to handed over: from the commit that makes a recording ready (as complete-upload or
 *   the webhook make it) to its email arriving at SendGrid, through the drain request that
 *   function makes right after its commit (`shared/outbox_drain.ts`).
 *
 * The stack must be started with {@linkcode NotificationBench.env} so that send-notification
 * sends to the double.
 */
import postgres from "postgres";
import { createLogger } from "../shared/kernel/log.ts";
import { createDrainRequester } from "../shared/outbox_drain.ts";
import { startSendGridDouble } from "../tests/support/sendgrid_double.ts";
import { BENCH_SENDGRID_RATE_LIMIT } from "./bench_support.ts";
import type { Measurement } from "./bench.ts";

/** What the email bench measured. */
export interface NotificationFigures {
  drain: {
    emails: number;
    /** Emails per second with one drain at a time (limit 500). */
    sequentialPerSecond: number;
    /** Emails per second with `parallelDrains` drains at once. */
    parallelPerSecond: number;
    parallelDrains: number;
    /** `sequentialPerSecond` over the baseline's requests per second. */
    rateRatio: number;
  };
  readyToHandedOver: {
    samples: number;
    p50Ms: number;
    p99Ms: number;
    /** p50 over the baseline's p50. */
    p50Ratio: number;
  };
}

/** Options of {@linkcode NotificationBench.run}. */
export interface NotificationRunOptions {
  /** Base URL of the running stack. */
  url: string;
  /** The bench database (real PostgreSQL). */
  databaseUrl: string;
  baseline: Measurement;
  /** Emails per drain-rate run. @default {1000} */
  emails?: number;
  /** Recordings made ready one after another. @default {40} */
  samples?: number;
}

/** The SendGrid double and the runs that use it. */
export interface NotificationBench {
  /** Settings for the stack: the double's key and URL, a sender. */
  env: Record<string, string>;
  run(options: NotificationRunOptions): Promise<NotificationFigures>;
  close(): Promise<void>;
}

const PARALLEL_DRAINS = 4;

/** `--only notifications` runs just this part. */
export const NOTIFICATION_BENCH = "notifications";

/** Starts the SendGrid double; run the stack with `env`, then {@linkcode NotificationBench.run}. */
export function startNotificationBench(): NotificationBench {
  // The bench measures the drain, not SendGrid's rate limits (the double's default is 600 a
  // minute, which one run's emails exceed).
  const double = startSendGridDouble({ rateLimit: BENCH_SENDGRID_RATE_LIMIT });
  return {
    env: double.env,
    async run(options) {
      const emails = options.emails ?? 1000;
      const sql = postgres(options.databaseUrl, { max: 4, onnotice: () => {} });
      const drains = createDrainRequester({
        functionsUrl: `${options.url}/functions/v1`,
        jwtSecret: Deno.env.get("SUPABASE_JWT_SECRET"),
        serviceRoleKey: Deno.env.get("SUPABASE_SERVICE_ROLE_KEY"),
        limit: 500,
        timeoutMs: 120_000,
      });
      try {
        // What earlier scenarios or the seed queued goes out first, outside the measurement.
        while ((await drains.requestNow()).sent > 0);

        await queueConsentEmails(sql, emails, "seq");
        const sequential = await timed(async () => {
          while ((await drains.requestNow()).sent > 0);
        });
        await queueConsentEmails(sql, emails, "par");
        const parallel = await timed(async () => {
          await Promise.all(Array.from({ length: PARALLEL_DRAINS }, async () => {
            while ((await drains.requestNow()).sent > 0);
          }));
        });
        const ids = double.messages.map((message) => message.notificationId);
        if (new Set(ids).size !== ids.length) throw new Error("An email was sent twice");

        const latencies = await readyToHandedOver(sql, options, double);
        latencies.sort((a, b) => a - b);
        const p50 = latencies[Math.ceil(0.5 * latencies.length) - 1];
        const p99 = latencies[Math.ceil(0.99 * latencies.length) - 1];
        const sequentialPerSecond = round(emails / (sequential / 1000));
        return {
          drain: {
            emails,
            sequentialPerSecond,
            parallelPerSecond: round(emails / (parallel / 1000)),
            parallelDrains: PARALLEL_DRAINS,
            rateRatio: round(sequentialPerSecond / options.baseline.requestsPerSecond),
          },
          readyToHandedOver: {
            samples: latencies.length,
            p50Ms: round(p50),
            p99Ms: round(p99),
            p50Ratio: round(p50 / options.baseline.p50Ms),
          },
        };
      } finally {
        await sql.end();
      }
    },
    close: () => double.close(),
  };
}

/** Queues `count` consent emails: streamers with ten new pending guardians each. */
async function queueConsentEmails(sql: postgres.Sql, count: number, tag: string): Promise<void> {
  const streamers = Math.ceil(count / 10);
  const run = crypto.randomUUID().slice(0, 8);
  await sql.begin(async (tx) => {
    const users = await tx<{ id: string }[]>`
      insert into auth.users (id, aud, role, email, email_confirmed_at, created_at, updated_at)
      select gen_random_uuid(), 'authenticated', 'authenticated',
             ${`bench-${tag}-${run}-`} || n || '@example.test', now(), now(), now()
        from generate_series(1, ${streamers}) as n
      returning id`;
    await tx`
      insert into public.guardians (streamer_id, email, name, created_at, updated_at)
      select u.id, 'guardian-' || g || '-' || u.id || '@example.test', 'Guardian ' || g,
             now(), now()
        from unnest(${users.map((user) => user.id)}::uuid[]) as u(id),
             generate_series(1, 10) as g
       limit ${count}`;
  });
}

/**
 * Makes recordings ready one at a time; each commit is followed by the drain request a
 * function makes, and timed until its email reaches the double.
 */
async function readyToHandedOver(
  sql: postgres.Sql,
  options: NotificationRunOptions,
  double: ReturnType<typeof startSendGridDouble>,
): Promise<number[]> {
  const samples = options.samples ?? 40;
  const [streamer] = await sql<{ id: string }[]>`
    insert into auth.users (id, aud, role, email, email_confirmed_at, raw_user_meta_data,
                            created_at, updated_at)
    values (gen_random_uuid(), 'authenticated', 'authenticated',
            ${`bench-latency-${crypto.randomUUID()}@example.test`}, now(),
            ${sql.json({ name: "Bench streamer" })}, now(), now())
    returning id`;
  await sql`
    insert into public.guardians (streamer_id, email, status, confirmed_at, created_at,
                                  updated_at)
    values (${streamer.id}, ${`parent-${streamer.id}@example.test`}, 'active', now(), now(),
            now())`;
  const [session] = await sql<{ id: string }[]>`
    insert into public.stream_sessions (id, streamer_id, title, status, end_reason, room_name,
                                        record, started_at, ended_at, duration_seconds)
    select s.id, ${streamer.id}, 'Bench', 'ended', 'streamer_ended', 'session-' || s.id, false,
           now() - interval '1 hour', now(), 3600
      from (select gen_random_uuid() as id) s
    returning id`;
  const log = createLogger({ function: "bench" }, () => {});
  const drain = createDrainRequester({
    functionsUrl: `${options.url}/functions/v1`,
    jwtSecret: Deno.env.get("SUPABASE_JWT_SECRET"),
    serviceRoleKey: Deno.env.get("SUPABASE_SERVICE_ROLE_KEY"),
  });
  const latencies: number[] = [];
  for (let i = 0; i < samples; i++) {
    const [recording] = await sql<{ id: string }[]>`
      insert into public.recordings (session_id, streamer_id, source, status)
      values (${session.id}, ${streamer.id}, 'egress', 'processing')
      returning id`;
    const expected = double.messages.length + 1;
    const started = performance.now();
    await sql`
      update public.recordings
         set status = 'ready', ready_at = now(), duration_seconds = 3600, updated_at = now()
       where id = ${recording.id}`;
    drain.request(log);
    const handedOver = (await double.waitForMessages(expected, 30_000))[expected - 1];
    latencies.push(handedOver.receivedAt - started);
  }
  return latencies;
}

async function timed(work: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

/** The figures as lines for the bench's summary. */
export function formatNotificationFigures(figures: NotificationFigures): string {
  const { drain, readyToHandedOver: latency } = figures;
  return [
    `email drain (${drain.emails} emails to the SendGrid double): ` +
    `${drain.sequentialPerSecond}/s one drain at a time (${drain.rateRatio} x baseline req/s), ` +
    `${drain.parallelPerSecond}/s with ${drain.parallelDrains} drains at once`,
    `recording ready -> email handed to SendGrid (${latency.samples} samples): ` +
    `p50 ${latency.p50Ms} ms, p99 ${latency.p99Ms} ms (p50 ${latency.p50Ratio} x baseline p50)`,
  ].join("\n");
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
