/**
 * ops, the operator's view, against real rows in every state it reports: emails pending, due,
 * retrying, in flight, stuck, failed and sent; webhook events processed and failed; sessions
 * starting, overdue, live and ended for each reason; recordings pending, recording,
 * processing, uploading (stuck or not), ready early or late, and failed; reconcile runs. It is
 * for the service caller only.
 */
import assert from "node:assert/strict";
import { fixedClock } from "../../shared/kernel/clock.ts";
import { closeAllDatabases, getDatabase } from "../../shared/kernel/db.ts";
import { createTokenVerifier } from "../../shared/kernel/auth.ts";
import { createOpsHandler } from "../../supabase/functions/ops/handler.ts";
import { freshDatabase } from "../support/database.ts";
import { serviceToken, TEST_SUPABASE_URL, userToken } from "../support/tokens.ts";

const SECRET = "ops-test-jwt-secret-of-at-least-32-characters";
const NOW = new Date("2026-12-06T12:00:00Z");
const minutesAgo = (minutes: number) => new Date(NOW.getTime() - minutes * 60_000);
const secondsAfter = (date: Date, seconds: number) => new Date(date.getTime() + seconds * 1000);

async function setUp() {
  const fresh = await freshDatabase({ seed: false });
  await fresh.sql.end();
  const db = getDatabase(fresh.url, { max: 1 });
  const handler = createOpsHandler({
    db,
    verifier: createTokenVerifier({
      supabaseUrl: TEST_SUPABASE_URL,
      jwtSecret: SECRET,
      remoteJwks: false,
    }),
    cors: { allowedOrigins: [] },
    clock: fixedClock(NOW),
    logSink: () => {},
  });
  const call = async (options: { token?: string; method?: string; query?: string } = {}) => {
    const response = await handler(
      new Request(`http://127.0.0.1/functions/v1/ops${options.query ?? ""}`, {
        method: options.method ?? "GET",
        headers: options.token ? { authorization: `Bearer ${options.token}` } : {},
      }),
    );
    return { status: response.status, headers: response.headers, body: await response.json() };
  };
  return { db, sql: db.sql, call, close: () => closeAllDatabases() };
}

Deno.test("ops answers only the service caller", async () => {
  const { call, close } = await setUp();
  try {
    const anonymous = await call();
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.body.error.code, "unauthorized");
    const user = await call({ token: await userToken(SECRET, crypto.randomUUID()) });
    assert.equal(user.status, 401);
    // A service token signed with another secret is no service token.
    const forged = await call({
      token: await serviceToken("another-secret-that-is-long-enough-to-sign"),
    });
    assert.equal(forged.status, 401);
    assert.equal((await call({ token: await serviceToken(SECRET), method: "POST" })).status, 405);
    const withQuery = await call({ token: await serviceToken(SECRET), query: "?streamerId=x" });
    assert.equal(withQuery.status, 400);
    assert.equal(withQuery.body.error.code, "invalid_request");
  } finally {
    await close();
  }
});

Deno.test("ops on an empty database: zeros, no ages, and no reconcile run yet", async () => {
  const { call, close } = await setUp();
  try {
    const response = await call({ token: await serviceToken(SECRET) });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    assert.equal(response.headers.get("cache-control"), "no-store");
    const view = response.body;
    assert.equal(view.generatedAt, NOW.toISOString());
    assert.deepEqual(view.outbox, {
      pending: 0,
      due: 0,
      retrying: 0,
      oldestPendingSeconds: null,
      stuck: 0,
      oldestStuckSeconds: null,
      failedLastDay: 0,
      sentLastHour: 0,
      streamStarted: { emailsLastDay: 0, over60sLastDay: 0, p95Seconds: null },
    });
    assert.deepEqual(view.webhooks, {
      receivedLastHour: 0,
      failedLastHour: 0,
      lastReceivedAt: null,
      secondsSinceLastEvent: null,
    });
    assert.equal(view.sessions.live, 0);
    assert.deepEqual(view.recordings.uploading, { count: 0, stuck: 0, oldestStuckSeconds: null });
    assert.deepEqual(view.reconcile, {
      lastRun: null,
      secondsSinceLastRun: null,
      secondsSinceLastSuccess: null,
      failedLastHour: 0,
    });
    // A deployment whose reconcile never ran is not healthy: pg_cron runs it every 5 minutes.
    assert.equal(view.status, "attention");
    assert.deepEqual(view.alerts, [
      { code: "reconcile_stale", severity: "page", value: null, threshold: 900 },
    ]);
  } finally {
    await close();
  }
});

Deno.test("ops reports every state from the rows, in one document", async () => {
  const { sql, call, close } = await setUp();
  async function streamer(): Promise<string> {
    const id = crypto.randomUUID();
    await sql`insert into auth.users (id, email) values (${id}, ${`s-${id}@example.test`})`;
    return id;
  }
  async function session(
    status: "starting" | "live" | "ended",
    options: { created: Date; started?: Date; ended?: Date; reason?: string },
  ): Promise<{ id: string; streamerId: string }> {
    const streamerId = await streamer();
    const id = crypto.randomUUID();
    await sql`
      insert into public.stream_sessions (id, streamer_id, room_name, record, status,
                                          created_at, started_at, ended_at, end_reason)
      values (${id}, ${streamerId}, ${`session-${id}`}, false, ${status}, ${options.created},
              ${options.started ?? null}, ${options.ended ?? null}, ${options.reason ?? null})`;
    return { id, streamerId };
  }
  async function recording(
    owner: { id: string; streamerId: string },
    status: string,
    options: { source?: "egress" | "upload"; created: Date; updated?: Date; ready?: Date },
  ) {
    const source = options.source ?? "egress";
    await sql`
      insert into public.recordings (session_id, streamer_id, source, status, expected_size_bytes,
                                     created_at, updated_at, ready_at)
      values (${owner.id}, ${owner.streamerId}, ${source}, ${status},
              ${source === "upload" ? 1000 : null}, ${options.created},
              ${options.updated ?? options.created}, ${options.ready ?? null})`;
  }

  async function email(
    guardian: string,
    row: {
      status: string;
      created: Date;
      next: Date;
      attempts?: number;
      lockedUntil?: Date;
      updated?: Date;
      sent?: Date;
      startedSession?: string;
      family: string;
    },
  ) {
    const kind = row.startedSession ? "stream_started" : "consent";
    const objectId = row.startedSession ?? guardian;
    await sql`
      insert into public.notification_outbox (kind, guardian_id, streamer_id, session_id,
        object_id, status, attempts, next_attempt_at, locked_until, created_at, updated_at,
        sent_at)
      values (${kind}, ${guardian}, ${row.family}, ${row.startedSession ?? null}, ${objectId},
              ${row.status}, ${row.attempts ?? 0}, ${row.next}, ${row.lockedUntil ?? null},
              ${row.created}, ${row.updated ?? row.created}, ${row.sent ?? null})`;
  }

  try {
    // Sessions: two live, two starting (one overdue), six ended in the last day, one before.
    const live = await session("live", { created: minutesAgo(31), started: minutesAgo(30) });
    const liveNoEgress = await session("live", { created: minutesAgo(9), started: minutesAgo(8) });
    const starting = await session("starting", { created: minutesAgo(5) });
    await session("starting", { created: minutesAgo(25) });
    await session("ended", {
      created: minutesAgo(130),
      ended: minutesAgo(120),
      reason: "abandoned",
    });
    const failedSession = await session("ended", {
      created: minutesAgo(200),
      started: minutesAgo(190),
      ended: minutesAgo(180),
      reason: "failed",
    });
    const endedRecently = await session("ended", {
      created: minutesAgo(60),
      started: minutesAgo(59),
      ended: minutesAgo(30),
      reason: "streamer_ended",
    });
    const endedJustNow = await session("ended", {
      created: minutesAgo(40),
      started: minutesAgo(39),
      ended: minutesAgo(5),
      reason: "room_finished",
    });
    const doneFast = await session("ended", {
      created: minutesAgo(400),
      started: minutesAgo(399),
      ended: minutesAgo(300),
      reason: "streamer_ended",
    });
    const doneSlow = await session("ended", {
      created: minutesAgo(400),
      started: minutesAgo(399),
      ended: minutesAgo(360),
      reason: "streamer_ended",
    });
    const old = await session("ended", {
      created: minutesAgo(3000),
      started: minutesAgo(2999),
      ended: minutesAgo(2900),
      reason: "streamer_ended",
    });

    // Recordings in each unsettled state, stuck or not, ready early or late, failed.
    await recording(starting, "pending", { created: minutesAgo(5) });
    await recording(liveNoEgress, "pending", { created: minutesAgo(9) }); // stuck: live 8 min
    await recording(live, "recording", { created: minutesAgo(30) });
    await recording(endedJustNow, "recording", { created: minutesAgo(39) }); // ended 5 min ago
    await recording(endedRecently, "processing", { created: minutesAgo(59) }); // stuck
    await recording(old, "uploading", { source: "upload", created: minutesAgo(180) }); // stuck
    await recording(old, "uploading", { source: "upload", created: minutesAgo(30) });
    await recording(doneFast, "ready", { created: minutesAgo(399), ready: minutesAgo(298) });
    await recording(doneSlow, "ready", { created: minutesAgo(399), ready: minutesAgo(348) });
    await recording(failedSession, "failed", { created: minutesAgo(190), updated: minutesAgo(60) });
    await recording(old, "failed", { created: minutesAgo(2999), updated: minutesAgo(2800) });

    // Guardians of one family, then the outbox as these tests set it (triggers queued none).
    const family = await streamer();
    const guardians: string[] = [];
    for (let i = 0; i < 8; i++) {
      const [{ id }] = await sql<{ id: string }[]>`
        insert into public.guardians (streamer_id, email, status, confirmed_at)
        values (${family}, ${`g${i}@example.test`}, 'active', ${minutesAgo(5000)})
        returning id`;
      guardians.push(id);
    }
    await sql`delete from public.notification_outbox`;
    // Due a minute ago: the next drain takes it.
    await email(guardians[0], {
      family,
      status: "queued",
      created: minutesAgo(2),
      next: minutesAgo(1),
    });
    // Due for 10 minutes and untaken: stuck.
    await email(guardians[1], {
      family,
      status: "queued",
      created: minutesAgo(12),
      next: minutesAgo(10),
    });
    // Retrying after two failures, not due for 5 more minutes; the oldest pending.
    await email(guardians[2], {
      family,
      status: "queued",
      created: minutesAgo(20),
      next: secondsAfter(NOW, 300),
      attempts: 2,
    });
    // In flight under a lease.
    await email(guardians[3], {
      family,
      status: "sending",
      created: minutesAgo(3),
      next: minutesAgo(3),
      attempts: 1,
      lockedUntil: secondsAfter(NOW, 60),
    });
    // A drain that died 7 minutes after claiming it: the lease ran out and no drain came.
    await email(guardians[4], {
      family,
      status: "sending",
      created: minutesAgo(9),
      next: minutesAgo(9),
      attempts: 1,
      lockedUntil: minutesAgo(7),
    });
    await email(guardians[5], {
      family,
      status: "failed",
      created: minutesAgo(400),
      next: minutesAgo(400),
      attempts: 16,
      updated: minutesAgo(120),
    });
    await email(guardians[6], {
      family,
      status: "failed",
      created: minutesAgo(4000),
      next: minutesAgo(4000),
      attempts: 16,
      updated: minutesAgo(3000),
    });
    // Stream-started emails of the live session: 10 s and 90 s after it went live.
    await email(guardians[6], {
      family,
      status: "sent",
      created: minutesAgo(30),
      next: minutesAgo(30),
      attempts: 1,
      sent: secondsAfter(minutesAgo(30), 10),
      startedSession: live.id,
    });
    await email(guardians[7], {
      family,
      status: "sent",
      created: minutesAgo(30),
      next: minutesAgo(30),
      attempts: 1,
      sent: secondsAfter(minutesAgo(30), 90),
      startedSession: live.id,
    });

    // Webhook events: three in the last hour (one failed), one failed before.
    for (
      const [id, outcome, received] of [
        ["EV_1", "processed", minutesAgo(10)],
        ["EV_2", "failed", minutesAgo(20)],
        ["EV_3", "processed", minutesAgo(5)],
        ["EV_4", "failed", minutesAgo(120)],
      ] as const
    ) {
      await sql`
        insert into public.webhook_events (id, event, outcome, received_at, payload)
        values (${id}, 'participant_joined', ${outcome}, ${received}, '{}'::jsonb)`;
    }

    // reconcile: succeeded 20 minutes ago, failed 3 minutes ago.
    for (
      const [at, outcome, result, errorCode] of [
        [minutesAgo(20), "succeeded", { sessionsEnded: 1 }, null],
        [minutesAgo(3), "failed", null, "livekit_unavailable"],
      ] as const
    ) {
      await sql`
        select private.record_reconcile_run(
          p_started_at => ${at}, p_finished_at => ${at}, p_outcome => ${outcome},
          p_result => ${result === null ? null : sql.json(result)}, p_error_code => ${errorCode})`;
    }

    const response = await call({ token: await serviceToken(SECRET) });
    assert.equal(response.status, 200, JSON.stringify(response.body));
    const view = response.body;

    assert.deepEqual(view.outbox, {
      pending: 5,
      due: 4,
      retrying: 3,
      oldestPendingSeconds: 1200,
      stuck: 2,
      oldestStuckSeconds: 600,
      failedLastDay: 1,
      sentLastHour: 2,
      streamStarted: { emailsLastDay: 2, over60sLastDay: 1, p95Seconds: 86 },
    });
    assert.deepEqual(view.webhooks, {
      receivedLastHour: 3,
      failedLastHour: 1,
      lastReceivedAt: minutesAgo(5).toISOString(),
      secondsSinceLastEvent: 300,
    });
    assert.deepEqual(view.sessions, {
      live: 2,
      starting: 2,
      startingOverdue: 1,
      oldestLiveSeconds: 1800,
      endedLastDay: 6,
      abandonedLastDay: 1,
      failedLastDay: 1,
    });
    assert.deepEqual(view.recordings, {
      pending: { count: 2, stuck: 1, oldestStuckSeconds: 540 },
      recording: { count: 2, stuck: 0, oldestStuckSeconds: null },
      processing: { count: 1, stuck: 1, oldestStuckSeconds: 3540 },
      uploading: { count: 2, stuck: 1, oldestStuckSeconds: 10800 },
      failedLastDay: 1,
      ready: { egressLastDay: 2, over10mLastDay: 1, p95Seconds: 690 },
    });
    assert.deepEqual(view.reconcile, {
      lastRun: {
        startedAt: minutesAgo(3).toISOString(),
        finishedAt: minutesAgo(3).toISOString(),
        outcome: "failed",
        result: null,
        errorCode: "livekit_unavailable",
      },
      secondsSinceLastRun: 180,
      secondsSinceLastSuccess: 1200,
      failedLastHour: 1,
    });

    assert.equal(view.status, "attention");
    assert.deepEqual(
      view.alerts.map((alert: { code: string; severity: string }) => [alert.code, alert.severity]),
      [
        ["outbox_stuck", "page"],
        ["outbox_oldest_pending", "page"],
        ["webhooks_failing", "page"],
        ["reconcile_stale", "page"],
        ["outbox_failed", "ticket"],
        ["stream_started_email_late", "ticket"],
        ["sessions_starting_overdue", "ticket"],
        ["recordings_stuck", "ticket"],
        ["recording_ready_late", "ticket"],
        ["reconcile_failed", "ticket"],
      ],
    );
  } finally {
    await close();
  }
});
