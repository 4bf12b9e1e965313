/**
 * The outbox drain of `send-notification`, in process on a fresh database with SendGrid played
 * by the loopback double and time held by a fixed clock, so backoff is stepped through instead
 * of slept. Causes are made the way the webhook and the functions make them (status updates
 * that fire the queueing triggers), and replayed.
 */
import assert from "node:assert/strict";
import type postgres from "postgres";
import {
  DEMO_RECORDING,
  DEMO_SESSION,
  GUARDIAN_A_ROW,
  PENDING_ROW,
  STREAMER_A,
  STREAMER_B,
} from "../../dev/seed_ids.ts";
import { createTokenVerifier } from "../../shared/kernel/auth.ts";
import { fixedClock } from "../../shared/kernel/clock.ts";
import { closeAllDatabases, type Database, getDatabase } from "../../shared/kernel/db.ts";
import { createLinkSigner } from "../../shared/kernel/link.ts";
import { resolveWatchLink } from "../../shared/watch_link.ts";
import { MAX_ATTEMPTS } from "../../supabase/functions/send-notification/backoff.ts";
import { createSendNotificationHandler } from "../../supabase/functions/send-notification/handler.ts";
import {
  createCaptureMailer,
  createSendGridMailer,
} from "../../supabase/functions/send-notification/mailer.ts";
import { type FreshDatabase, freshDatabase } from "../support/database.ts";
import { type SendGridDouble, startSendGridDouble } from "../support/sendgrid_double.ts";
import { testSecret } from "../support/stack.ts";
import { serviceToken, TEST_SUPABASE_URL } from "../support/tokens.ts";

interface Counts {
  sent: number;
  retried: number;
  failed: number;
  suppressed: number;
}

interface OutboxRow {
  id: string;
  kind: string;
  guardian_id: string;
  object_id: string;
  status: string;
  attempts: number;
  next_attempt_at: Date;
  provider_message_id: string | null;
  last_error: string | null;
}

interface Harness {
  db: Database;
  sql: postgres.Sql;
  double: SendGridDouble;
  clock: ReturnType<typeof fixedClock>;
  links: ReturnType<typeof createLinkSigner>;
  logs: string[];
  drain(limit?: number): Promise<Counts>;
  outbox(): Promise<OutboxRow[]>;
  stop(): Promise<void>;
}

interface HarnessOptions {
  /** Keep emails in captured_emails instead of sending them to the SendGrid double. */
  capture?: boolean;
  /**
   * The mailer's bound on one SendGrid call. Short only where the double is told to hang: a
   * loaded machine (CI runs the suite in parallel) can take longer than that to answer.
   * @default {10000}
   */
  sendTimeoutMs?: number;
}

async function harness(options: HarnessOptions = {}): Promise<Harness> {
  const fresh: FreshDatabase = await freshDatabase();
  await fresh.sql.end();
  const db = getDatabase(fresh.url, { max: fresh.kind === "pglite" ? 1 : 8 });
  // Now, so that what the database stamps with now() is due; then only moved by the test.
  const clock = fixedClock(new Date(Date.now() + 1000));
  // SendGrid's X-RateLimit-Reset is read against the same clock as the mailer's.
  const double = startSendGridDouble({ clock });
  const jwtSecret = testSecret();
  const links = createLinkSigner(testSecret(), clock);
  const logs: string[] = [];
  const fetch = createSendNotificationHandler({
    db,
    verifier: createTokenVerifier({
      supabaseUrl: TEST_SUPABASE_URL,
      jwtSecret,
      remoteJwks: false,
      clock,
    }),
    mailer: options.capture ? createCaptureMailer(db) : createSendGridMailer({
      apiKey: double.apiKey,
      apiUrl: double.url,
      timeoutMs: options.sendTimeoutMs ?? 10_000,
      clock,
    }),
    links,
    email: {
      appName: "VR Stream",
      from: "no-reply@vr.example",
      viewerUrl: "https://viewer.vr.example",
      functionsUrl: "https://project.supabase.co/functions/v1",
    },
    cors: { allowedOrigins: [] },
    clock,
    random: () => 0.5,
    logSink: (line) => logs.push(line),
  });
  const token = await serviceToken(jwtSecret, { exp: Math.floor(Date.now() / 1000) + 86400 * 30 });
  return {
    db,
    sql: db.sql,
    double,
    clock,
    links,
    logs,
    async drain(limit) {
      const response = await fetch(
        new Request("http://127.0.0.1/functions/v1/send-notification", {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify(limit === undefined ? {} : { limit }),
        }),
      );
      const body = await response.json();
      assert.equal(response.status, 200, JSON.stringify(body));
      return body;
    },
    outbox: () =>
      db.sql<OutboxRow[]>`
        select id, kind, guardian_id, object_id, status, attempts, next_attempt_at,
               provider_message_id, last_error
          from public.notification_outbox
         order by created_at, id`,
    async stop() {
      await double.close();
      await closeAllDatabases();
      await fresh.close();
    },
  };
}

/** A session of `streamer` that goes live now: the webhook's participant_joined, in effect. */
async function goLive(h: Harness, streamer = STREAMER_A, title = "Beat Saber"): Promise<string> {
  const now = h.clock.now();
  const [session] = await h.sql<{ id: string }[]>`
    insert into public.stream_sessions (id, streamer_id, title, room_name, record, created_at,
                                        updated_at)
    select s.id, ${streamer}, ${title}, 'session-' || s.id, false, ${now}, ${now}
      from (select gen_random_uuid() as id) s
    returning id`;
  await h.sql`
    update public.stream_sessions
       set status = 'live', started_at = ${now}, updated_at = ${now}
     where id = ${session.id} and status = 'starting'`;
  return session.id;
}

async function endSession(h: Harness, sessionId: string): Promise<number> {
  const now = h.clock.now();
  const result = await h.sql`
    update public.stream_sessions
       set status = 'ended', end_reason = 'room_finished', ended_at = ${now},
           duration_seconds = extract(epoch from (${now}::timestamptz - started_at)),
           updated_at = ${now}
     where id = ${sessionId} and status <> 'ended'`;
  return result.count;
}

/** An egress recording of the session that becomes ready now. */
async function recordingReady(h: Harness, sessionId: string, streamer = STREAMER_A) {
  const now = h.clock.now();
  const [recording] = await h.sql<{ id: string }[]>`
    insert into public.recordings (session_id, streamer_id, source, status, created_at,
                                   updated_at)
    values (${sessionId}, ${streamer}, 'egress', 'pending', ${now}, ${now})
    returning id`;
  await h.sql`
    update public.recordings
       set status = 'ready', ready_at = ${now}, duration_seconds = 600, updated_at = ${now}
     where id = ${recording.id} and status <> 'ready'`;
  return recording.id;
}

async function addGuardian(
  h: Harness,
  streamer: string,
  email: string,
  status: "pending" | "active",
): Promise<string> {
  const now = h.clock.now();
  const [row] = await h.sql<{ id: string }[]>`
    insert into public.guardians (streamer_id, email, name, status, confirmed_at, created_at,
                                  updated_at)
    values (${streamer}, ${email}, ${"Guardian"}, ${status},
            ${status === "active" ? now : null}, ${now}, ${now})
    returning id`;
  return row.id;
}

function assertNoPersonalDataIn(logs: string[]): void {
  const text = logs.join("\n");
  assert.doesNotMatch(text, /[A-Za-z0-9._%+-]{2,}@example\.test/, "an email address was logged");
  assert.doesNotMatch(text, /eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\./, "a token was logged");
}

Deno.test("one email per cause, even when the cause is replayed", async () => {
  const h = await harness();
  try {
    await h
      .sql`update public.guardians set notify_stream_ended = true where id = ${GUARDIAN_A_ROW}`;
    const session = await goLive(h);
    // Replays: the same update again (a duplicate webhook), and the queueing itself again.
    await h.sql`
      update public.stream_sessions set status = 'live', updated_at = ${h.clock.now()}
       where id = ${session} and status = 'live'`;
    await h.sql`
      select private.queue_guardian_notifications(p_kind => 'stream_started',
        p_streamer_id => ${STREAMER_A}::uuid, p_session_id => ${session}::uuid,
        p_recording_id => null, p_at => ${h.clock.now()}::timestamptz)`;

    // The seed's pending guardian and ready recording queued one each already.
    assert.deepEqual(await h.drain(), { sent: 3, retried: 0, failed: 0, suppressed: 0 });

    h.clock.advance(1800);
    assert.equal(await endSession(h, session), 1);
    assert.equal(await endSession(h, session), 0);
    const recording = await recordingReady(h, session);
    await h.sql`
      update public.recordings set status = 'ready', updated_at = ${h.clock.now()}
       where id = ${recording}`;
    assert.deepEqual(await h.drain(), { sent: 2, retried: 0, failed: 0, suppressed: 0 });
    assert.deepEqual(await h.drain(), { sent: 0, retried: 0, failed: 0, suppressed: 0 });

    const rows = await h.outbox();
    assert.deepEqual(rows.map((row) => row.kind).sort(), [
      "consent",
      "recording_ready",
      "recording_ready",
      "stream_ended",
      "stream_started",
    ]);
    const ids = h.double.messages.map((message) => message.notificationId);
    assert.equal(new Set(ids).size, 5, "an email went out twice");
    for (const row of rows) {
      assert.equal(row.status, "sent");
      assert.equal(row.attempts, 1);
      const message = h.double.messages.find((m) => m.notificationId === row.id);
      assert.equal(row.provider_message_id, message?.messageId, "the provider id is recorded");
    }

    const started = h.double.messages.find((m) =>
      m.body.custom_args.notification_kind === "stream_started"
    )!;
    assert.equal(started.to, "parent@example.test");
    const watch = /#\/watch\?link=([\w.-]+)/.exec(started.body.content[0].value)![1];
    const access = await resolveWatchLink(h.db, { signer: h.links, token: watch });
    assert.equal(access.session.id, session);
    assertNoPersonalDataIn(h.logs);
  } finally {
    await h.stop();
  }
});

Deno.test("a SendGrid outage delays emails, and recovery delivers each exactly once", async () => {
  const h = await harness({ sendTimeoutMs: 2_000 });
  try {
    await goLive(h);
    h.double.mode = "fail";
    assert.deepEqual(await h.drain(), { sent: 0, retried: 3, failed: 0, suppressed: 0 });
    let rows = await h.outbox();
    for (const row of rows) {
      assert.equal(row.status, "queued");
      assert.equal(row.attempts, 1);
      // Attempt 1 waits between 15 and 30 s; the fixed jitter makes it 23.
      assert.equal((row.next_attempt_at.getTime() - h.clock.now().getTime()) / 1000, 23);
      assert.match(row.last_error ?? "", /SendGrid answered 500/);
    }
    assert.deepEqual(await h.drain(), { sent: 0, retried: 0, failed: 0, suppressed: 0 });

    h.clock.advance(23);
    h.double.mode = "rate_limited";
    h.double.retryAfterSeconds = 600;
    assert.deepEqual(await h.drain(), { sent: 0, retried: 3, failed: 0, suppressed: 0 });
    rows = await h.outbox();
    for (const row of rows) {
      // X-RateLimit-Reset (600 s ahead) wins over the backoff (45 s).
      assert.equal((row.next_attempt_at.getTime() - h.clock.now().getTime()) / 1000, 600);
    }
    h.clock.advance(599);
    assert.deepEqual(await h.drain(), { sent: 0, retried: 0, failed: 0, suppressed: 0 });

    h.clock.advance(1);
    h.double.mode = "hang";
    assert.deepEqual(await h.drain(), { sent: 0, retried: 3, failed: 0, suppressed: 0 });

    h.clock.advance(90);
    h.double.mode = "ok";
    assert.deepEqual(await h.drain(), { sent: 3, retried: 0, failed: 0, suppressed: 0 });
    h.clock.advance(3600);
    assert.deepEqual(await h.drain(), { sent: 0, retried: 0, failed: 0, suppressed: 0 });

    rows = await h.outbox();
    assert.ok(rows.every((row) => row.status === "sent" && row.attempts === 4));
    const ids = h.double.messages.map((message) => message.notificationId).sort();
    assert.deepEqual(ids, rows.map((row) => row.id).sort(), "each row exactly once");
    assert.equal(h.double.unanswered, 9);
  } finally {
    await h.stop();
  }
});

Deno.test("a permanent refusal fails at once; endless trouble fails after the last attempt", async () => {
  const h = await harness();
  try {
    // The table accepts this address; SendGrid does not.
    const unreachable = await addGuardian(h, STREAMER_B, "kid@localhost", "pending");
    assert.deepEqual(await h.drain(), { sent: 2, retried: 0, failed: 1, suppressed: 0 });
    let [row] = (await h.outbox()).filter((r) => r.guardian_id === unreachable);
    assert.equal(row.status, "failed");
    assert.match(row.last_error ?? "", /SendGrid answered 400: Does not contain a valid address/);
    h.clock.advance(86400);
    assert.deepEqual(await h.drain(), { sent: 0, retried: 0, failed: 0, suppressed: 0 });

    const doomed = await addGuardian(h, STREAMER_B, "gran@example.test", "pending");
    h.double.mode = "fail";
    for (let attempt = 1; attempt < MAX_ATTEMPTS; attempt++) {
      assert.deepEqual(await h.drain(), { sent: 0, retried: 1, failed: 0, suppressed: 0 });
      h.clock.advance(7200);
    }
    assert.deepEqual(await h.drain(), { sent: 0, retried: 0, failed: 1, suppressed: 0 });
    [row] = (await h.outbox()).filter((r) => r.guardian_id === doomed);
    assert.equal(row.status, "failed");
    assert.equal(row.attempts, MAX_ATTEMPTS);
    assert.match(row.last_error ?? "", new RegExp(`Gave up after ${MAX_ATTEMPTS} attempts`));
    assert.doesNotMatch(row.last_error ?? "", /@/);
    assertNoPersonalDataIn(h.logs);
  } finally {
    await h.stop();
  }
});

Deno.test("rows for revoked, unconfirmed or opted-out guardians are suppressed, not sent", async () => {
  const h = await harness();
  try {
    const revoked = await addGuardian(h, STREAMER_A, "revoked-later@example.test", "active");
    const optedOut = await addGuardian(h, STREAMER_A, "opted-out@example.test", "active");
    const unconfirmed = await addGuardian(h, STREAMER_A, "unconfirmed@example.test", "pending");
    const session = await goLive(h);
    // A stream row for someone unconfirmed: the triggers never queue one, so a bug would.
    await h.sql`
      insert into public.notification_outbox (kind, guardian_id, streamer_id, session_id,
                                              object_id, next_attempt_at)
      values ('stream_started', ${unconfirmed}, ${STREAMER_A}, ${session}, ${session},
              ${h.clock.now()})`;
    const now = h.clock.now();
    await h.sql`
      update public.guardians set status = 'revoked', revoked_at = ${now} where id = ${revoked}`;
    await h.sql`update public.guardians set notify_stream_started = false where id = ${optedOut}`;
    // The seed's pending guardian confirmed before their consent email went out.
    await h.sql`
      update public.guardians set status = 'active', confirmed_at = ${now}
       where id = ${PENDING_ROW}`;
    await h.sql`
      update public.recordings set status = 'deleted', deleted_at = ${now}
       where id = ${DEMO_RECORDING}`;

    // Sent: the stream start to the seed's active guardian, and the unconfirmed one's consent.
    assert.deepEqual(await h.drain(), { sent: 2, retried: 0, failed: 0, suppressed: 5 });
    assert.deepEqual(
      h.double.messages.map((m) => `${m.to} ${m.body.custom_args.notification_kind}`).sort(),
      ["parent@example.test stream_started", "unconfirmed@example.test consent"],
    );
    const suppressed = (await h.outbox()).filter((row) => row.status === "suppressed");
    assert.deepEqual(suppressed.map((row) => row.last_error).sort(), [
      "the guardian already confirmed",
      "the guardian has not confirmed yet",
      "the guardian turned this kind of email off",
      "the guardian was revoked",
      "the recording is deleted",
    ]);
    assert.equal(
      suppressed.find((row) => row.object_id === DEMO_RECORDING)?.kind,
      "recording_ready",
    );
    assert.ok(DEMO_SESSION);
  } finally {
    await h.stop();
  }
});

Deno.test("at most 3 consent emails per address in 24 hours across streamers; the rest wait", async () => {
  const h = await harness();
  try {
    // Two more streamers, so that four invite the same address.
    const others = [crypto.randomUUID(), crypto.randomUUID()];
    for (const id of others) {
      await h.sql`insert into auth.users (id, email, email_confirmed_at)
                  values (${id}, ${`${id}@example.test`}, now())`;
    }
    await h.drain(); // the seed's emails
    const start = h.clock.now();
    for (const streamer of [STREAMER_A, STREAMER_B, ...others]) {
      await addGuardian(h, streamer, "popular@example.org", "pending");
    }
    assert.deepEqual(await h.drain(), { sent: 3, retried: 1, failed: 0, suppressed: 0 });
    const [waiting] = (await h.outbox()).filter((row) => row.status === "queued");
    assert.equal(waiting.kind, "consent");
    assert.equal(waiting.attempts, 0, "waiting for a slot is not a failed attempt");
    assert.equal(waiting.next_attempt_at.getTime(), start.getTime() + 24 * 3600_000);
    h.clock.advance(23 * 3600);
    assert.deepEqual(await h.drain(), { sent: 0, retried: 0, failed: 0, suppressed: 0 });
    h.clock.advance(3600);
    assert.deepEqual(await h.drain(), { sent: 1, retried: 0, failed: 0, suppressed: 0 });
    const to = h.double.messages.filter((m) => m.to === "popular@example.org");
    assert.equal(to.length, 4, "none is lost");
    // The window rolls: the first three are older than 24 hours now, so three more may go.
    const sentAt = (await h.sql<{ consent_slot_at: Date }[]>`
      select o.consent_slot_at from public.notification_outbox o
        join public.guardians g on g.id = o.guardian_id
       where g.email = 'popular@example.org' order by o.consent_slot_at`).map((row) =>
      row.consent_slot_at.getTime()
    );
    assert.deepEqual(sentAt.map((at) => (at - start.getTime()) / 3600_000), [0, 0, 0, 24]);
  } finally {
    await h.stop();
  }
});

Deno.test("an address that unsubscribed from everything gets no consent email, whoever invites it", async () => {
  const h = await harness();
  try {
    await h.drain(); // the seed's emails
    const first = await addGuardian(h, STREAMER_A, "done@example.org", "active");
    const [unsubscribed] = await h.sql<{ outcome: string }[]>`
      select outcome from private.guardian_set_preferences(
        p_guardian_id => ${first},
        p_notify => ${
      h.sql.json({ streamStarted: false, streamEnded: false, recordingReady: false })
    },
        p_now => ${h.clock.now()})`;
    assert.equal(unsubscribed.outcome, "updated");
    // Another streamer registers the address: its consent email is suppressed, not sent.
    const [registered] = await h.sql<
      { outcome: string; guardian: { notify_stream_started: boolean } }[]
    >`
      select outcome, guardian from private.guardian_register(
        p_streamer_id => ${STREAMER_B}, p_email => 'done@example.org', p_name => null,
        p_role => 'viewer', p_now => ${h.clock.now()})`;
    assert.equal(registered.outcome, "created");
    assert.equal(registered.guardian.notify_stream_started, false, "the address's choices hold");
    assert.deepEqual(await h.drain(), { sent: 0, retried: 0, failed: 0, suppressed: 1 });
    const [row] = (await h.outbox()).filter((row) => row.status === "suppressed");
    assert.equal(row.last_error, "the address unsubscribed from every email");
    // Opting in through a preferences link lets the next invitation through.
    await h.sql`
      select outcome from private.guardian_set_preferences(
        p_guardian_id => ${first}, p_notify => ${h.sql.json({ recordingReady: true })},
        p_now => ${h.clock.now()})`;
    const others = crypto.randomUUID();
    await h.sql`insert into auth.users (id, email, email_confirmed_at)
                values (${others}, 'third@example.test', now())`;
    await h.sql`
      select outcome from private.guardian_register(
        p_streamer_id => ${others}, p_email => 'done@example.org', p_name => null,
        p_role => 'viewer', p_now => ${h.clock.now()})`;
    assert.deepEqual(await h.drain(), { sent: 1, retried: 0, failed: 0, suppressed: 0 });
    assert.equal(h.double.messages.filter((m) => m.to === "done@example.org").length, 1);
  } finally {
    await h.stop();
  }
});

Deno.test("approval emails go only to the active primary guardian, while the invitation waits", async () => {
  const h = await harness();
  try {
    await h.drain(); // the seed's emails
    const invite = async (email: string) => {
      const [row] = await h.sql<{ outcome: string; guardian: { id: string } }[]>`
        select outcome, guardian from private.guardian_invite(
          p_streamer_id => ${STREAMER_A}, p_email => ${email}, p_name => 'Friend',
          p_notify => ${h.sql.json({})}, p_now => ${h.clock.now()})`;
      assert.equal(row.outcome, "created");
      return row.guardian.id;
    };
    await invite("friend-1@example.org");
    const decided = await invite("friend-2@example.org");
    await h.sql`
      select outcome from private.guardian_decide(
        p_primary_id => ${GUARDIAN_A_ROW}, p_guardian_id => ${decided}, p_decision => 'deny',
        p_now => ${h.clock.now()})`;
    assert.deepEqual(await h.drain(), { sent: 1, retried: 0, failed: 0, suppressed: 1 });
    assert.deepEqual(
      h.double.messages.filter((m) => m.body.custom_args.notification_kind === "approval")
        .map((m) => m.to),
      ["parent@example.test"],
    );
    const [suppressed] = (await h.outbox()).filter((row) => row.status === "suppressed");
    assert.equal(suppressed.last_error, "the invitation no longer awaits approval");
    // Without an active primary guardian, nobody may be invited at all.
    const [refused] = await h.sql<{ outcome: string }[]>`
      select outcome from private.guardian_invite(
        p_streamer_id => ${STREAMER_B}, p_email => 'friend-3@example.org', p_name => null,
        p_notify => ${h.sql.json({})}, p_now => ${h.clock.now()})`;
    assert.equal(refused.outcome, "primary_guardian_required");
    assertNoPersonalDataIn(h.logs);
  } finally {
    await h.stop();
  }
});

Deno.test("concurrent drains never send one row twice", async () => {
  const h = await harness();
  try {
    for (let i = 0; i < 8; i++) {
      await addGuardian(h, STREAMER_A, `parent-${i}@example.test`, "active");
    }
    const session = await goLive(h);
    await endSession(h, session);
    for (let i = 0; i < 8; i++) await recordingReady(h, session);
    const due = (await h.outbox()).length;
    assert.equal(due, 2 + 9 + 8 * 9, "consent + demo recording, 9 starts, 72 recordings");

    const results = await Promise.all(Array.from({ length: 8 }, () => h.drain(20)));
    const total = results.reduce((sum, counts) => sum + counts.sent, 0);
    assert.equal(total, due);
    assert.ok(results.every((counts) => counts.retried + counts.failed === 0));
    const ids = h.double.messages.map((message) => message.notificationId);
    assert.equal(ids.length, due);
    assert.equal(new Set(ids).size, due, "a row was sent twice");
    assert.ok((await h.outbox()).every((row) => row.status === "sent" && row.attempts === 1));
  } finally {
    await h.stop();
  }
});

Deno.test("without a SendGrid key emails are kept in captured_emails, which no user can read", async () => {
  const h = await harness({ capture: true });
  try {
    assert.deepEqual(await h.drain(), { sent: 2, retried: 0, failed: 0, suppressed: 0 });
    const captured = await h.sql<
      {
        id: string;
        notification_id: string;
        kind: string;
        to_address: string;
        subject: string;
        headers: Record<string, string>;
        custom_args: Record<string, string>;
      }[]
    >`select * from public.captured_emails order by kind`;
    assert.deepEqual(captured.map((email) => [email.kind, email.to_address]), [
      ["consent", "pending-parent@example.test"],
      ["recording_ready", "parent@example.test"],
    ]);
    assert.equal(captured[1].headers["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click");
    assert.equal(captured[1].custom_args.notification_kind, "recording_ready");
    for (const row of await h.outbox()) {
      const email = captured.find((c) => c.notification_id === row.id)!;
      assert.equal(row.provider_message_id, `captured-${email.id}`);
    }
    assert.equal(h.double.messages.length, 0);

    for (const table of ["captured_emails", "notification_outbox"]) {
      await assert.rejects(
        h.sql.begin(async (tx) => {
          await tx`select set_config('role', 'authenticated', true)`;
          await tx`select set_config('request.jwt.claims', ${
            JSON.stringify({ sub: STREAMER_A, role: "authenticated" })
          }, true)`;
          await tx.unsafe(`select count(*) from public.${table}`);
        }),
        (error: { code?: string }) => error.code === "42501",
        `authenticated can read ${table}`,
      );
    }
  } finally {
    await h.stop();
  }
});
