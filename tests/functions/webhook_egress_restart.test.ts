/**
 * A streamer connection whose egress ended while it stayed (its limit, a crash) is recorded
 * again when it publishes again, with no database transaction open across LiveKit's
 * StartParticipantEgress (restartEgress in supabase/functions/livekit-webhook/handler.ts and
 * the migrations `20261206100000_egress_restart_claim.sql` and
 * `20261206110000_auto_egress_per_connection.sql`): the restart is claimed in one statement,
 * LiveKit is called outside any transaction, the egress is recorded in a second statement. The
 * video and audio `track_published` of one republish start one egress; a LiveKit failure
 * releases the claim so LiveKit's retry restarts it; a claim left by a process that died
 * expires, and reconcile's ListEgress refresh records an egress it had started. A rejoined
 * streamer (a new connection) is never restarted: the room's auto egress records it.
 *
 * LiveKit is the stand-in (tests/support/livekit_double.ts) behind a loopback proxy that lets a
 * test look at the database while StartParticipantEgress is being answered.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { createTokenVerifier } from "../../shared/kernel/auth.ts";
import { closeAllDatabases, getDatabase } from "../../shared/kernel/db.ts";
import { type LiveKitSettings, startStreamerEgress } from "../../shared/livekit.ts";
import { createWebhookHandler } from "../../supabase/functions/livekit-webhook/handler.ts";
import { createReconcileHandler } from "../../supabase/functions/reconcile/handler.ts";
import { freshDatabase } from "../support/database.ts";
import { startLiveKitDouble } from "../support/livekit_double.ts";
import { serviceToken, TEST_SUPABASE_URL } from "../support/tokens.ts";
import { type EventJson, signEvent } from "../support/webhook_events.ts";

const STREAMER = "5e000000-0000-4000-8000-0000000e9001";
const SESSION = "5e550000-0000-4000-8000-0000000e9002";
const ROOM = `session-${SESSION}`;
const BUCKET = "restart-bucket";
const JWT_SECRET = "egress-restart-test-jwt-secret-32-chars";
/** When the streamer published again (seconds since the epoch). */
const START = 1_795_000_000;
const realPostgres = Boolean(Deno.env.get("TEST_DATABASE_URL"));

// deno-lint-ignore no-explicit-any
type Sql = any;

/**
 * The streamer's `track_published` for a video or an audio track, `seconds` after START, of the
 * connection that published before (or of `sid`).
 */
function published(kind: "video" | "audio", seconds: number, sid = "PA_streamer_2"): EventJson {
  return {
    id: `EV_${kind}_${seconds}_${crypto.randomUUID().slice(0, 8)}`,
    event: "track_published",
    createdAt: String(START + seconds),
    room: { name: ROOM, sid: "RM_restart" },
    participant: { sid, identity: `streamer:${STREAMER}`, state: "ACTIVE" },
    // As LiveKit sends them: protojson omits zero values, so an audio track has no type.
    track: kind === "video" ? { sid: "TR_video", type: "VIDEO" } : { sid: "TR_audio" },
  };
}

interface Harness {
  sql: Sql;
  /** The fresh database's URL, for a connection of the test's own. */
  databaseUrl: string;
  livekit: ReturnType<typeof startLiveKitDouble>;
  /** LiveKit settings that reach the stand-in through the proxy. */
  settings: LiveKitSettings;
  /** Runs while the proxy holds a StartParticipantEgress, before the stand-in answers it. */
  duringStart: (() => Promise<void>) | undefined;
  /** The handlers' clock. */
  now: Date;
  deliver(event: EventJson): Promise<{ status: number; body: Record<string, unknown> }>;
  reconcile(): Promise<{ status: number; body: Record<string, unknown> }>;
  /** StartParticipantEgress calls the stand-in received. */
  startCalls(): number;
  /** The egress ids the stand-in started, oldest first. */
  egressIds(): string[];
  /** The session's recordings, oldest first, as `egressId:status`. */
  recordings(): Promise<string[]>;
  /** The events that hold a restart claim. */
  claims(): Promise<string[]>;
  close(): Promise<void>;
}

async function harness(): Promise<Harness> {
  const fresh = await freshDatabase({ seed: false });
  await fresh.sql.end();
  const db = getDatabase(fresh.url, { max: fresh.kind === "pglite" ? 1 : 4 });
  const sql = db.sql;
  const livekit = startLiveKitDouble();
  livekit.addRoom(ROOM);

  // The proxy: every LiveKit call passes through; StartParticipantEgress waits for the test's
  // look at the database first.
  const proxy = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const url = new URL(request.url);
    const body = await request.arrayBuffer();
    if (url.pathname.endsWith("/livekit.Egress/StartParticipantEgress")) {
      await state.duringStart?.();
    }
    const headers = new Headers(request.headers);
    headers.delete("host");
    const answer = await fetch(`${livekit.url}${url.pathname}`, {
      method: request.method,
      headers,
      body,
    });
    return new Response(await answer.arrayBuffer(), {
      status: answer.status,
      headers: answer.headers,
    });
  });
  const proxyUrl = `http://127.0.0.1:${proxy.addr.port}`;
  const settings: LiveKitSettings = {
    url: proxyUrl,
    httpUrl: proxyUrl,
    apiKey: livekit.apiKey,
    apiSecret: livekit.apiSecret,
    timeoutSeconds: 5,
  };
  const clock = { now: () => state.now };
  const logSink = (line: string) => line.includes('"level":"error"') && console.error(line);
  const webhook = createWebhookHandler({
    db,
    livekit: settings,
    recording: { bucket: BUCKET },
    cors: { allowedOrigins: [] },
    clock,
    logSink: () => {},
  });
  const reconcile = createReconcileHandler({
    db,
    verifier: createTokenVerifier({
      supabaseUrl: TEST_SUPABASE_URL,
      jwtSecret: JWT_SECRET,
      remoteJwks: false,
    }),
    livekit: settings,
    cors: { allowedOrigins: [] },
    clock,
    logSink,
  });

  // A live, recorded session whose streamer's connection PA_streamer_2 published, was recorded
  // by the room's auto egress (the pending recording, made by
  // stream_sessions_create_pending_recording) and stayed when that egress completed: nothing
  // records the streamer, and LiveKit will not start another egress for that connection.
  await sql`insert into auth.users (id, email, email_confirmed_at)
            values (${STREAMER}, 'restart-streamer@example.test', now())`;
  await sql`
    insert into stream_sessions (id, streamer_id, room_name, record, status, created_at, started_at)
    values (${SESSION}, ${STREAMER}, ${ROOM}, true, 'live', ${new Date((START - 600) * 1000)},
            ${new Date((START - 590) * 1000)})`;
  await sql`
    insert into session_participants (session_id, participant_sid, identity, kind, joined_at,
                                      published)
    values (${SESSION}, 'PA_streamer_2', ${`streamer:${STREAMER}`}, 'streamer',
            ${new Date((START - 590) * 1000)}, true)`;
  await sql`
    update recordings set egress_id = 'EG_first', status = 'ready',
                          ready_at = ${new Date((START - 10) * 1000)}
     where session_id = ${SESSION}`;

  const state: Harness = {
    sql,
    databaseUrl: fresh.url,
    livekit,
    settings,
    duringStart: undefined,
    now: new Date(START * 1000),
    async deliver(event) {
      const { body, authorization } = await signEvent(event, livekit.apiKey, livekit.apiSecret);
      const response = await webhook(
        new Request("http://127.0.0.1/functions/v1/livekit-webhook", {
          method: "POST",
          headers: { authorization, "content-type": "application/webhook+json" },
          body,
        }),
      );
      return { status: response.status, body: await response.json() };
    },
    async reconcile() {
      const response = await reconcile(
        new Request("http://127.0.0.1/functions/v1/reconcile", {
          method: "POST",
          headers: { authorization: `Bearer ${await serviceToken(JWT_SECRET)}` },
          body: "{}",
        }),
      );
      return { status: response.status, body: await response.json() };
    },
    startCalls: () =>
      livekit.calls.filter((call) => call.method === "StartParticipantEgress").length,
    egressIds: () => [...livekit.egresses.keys()],
    async recordings() {
      const rows = await sql<{ egress_id: string; status: string }[]>`
        select egress_id, status from recordings where session_id = ${SESSION}
         order by created_at, egress_id`;
      return rows.map((row) => `${row.egress_id}:${row.status}`);
    },
    async claims() {
      const rows = await sql<{ event_id: string }[]>`
        select event_id from private.egress_restart_claims`;
      return rows.map((row) => row.event_id);
    },
    async close() {
      await proxy.shutdown();
      await closeAllDatabases();
      await livekit.close();
      await fresh.close();
    },
  };
  return state;
}

async function waitFor(what: string, probe: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

Deno.test("the video and audio track_published of a republish start one egress, and neither waits for LiveKit", async () => {
  const h = await harness();
  try {
    const answered: number[] = [];
    let answeredDuringStart = false;
    h.duringStart = async () => {
      // The other event is answered while LiveKit is still starting the egress: nothing it
      // needs (a connection, the session's row) is held across the call. (A proof on real
      // PostgreSQL; PGlite runs its connections in one backend, without row locks between them.)
      await waitFor("the other event's answer", () => answered.length === 1);
      answeredDuringStart = true;
    };
    const results = await Promise.all(
      [published("video", 0), published("audio", 0)].map(async (event) => {
        const result = await h.deliver(event);
        answered.push(result.status);
        return result;
      }),
    );
    assert.deepEqual(results.map((r) => r.status), [200, 200], JSON.stringify(results));
    assert.ok(answeredDuringStart, "one event waited for the other's LiveKit call");
    assert.equal(h.startCalls(), 1, "exactly one StartParticipantEgress");
    assert.equal(h.egressIds().length, 1);
    const [egressId] = h.egressIds();
    assert.deepEqual(await h.recordings(), ["EG_first:ready", `${egressId}:pending`]);
    assert.deepEqual(await h.claims(), [], "no claim is left once the egress is recorded");
    const ledger = await h.sql`select outcome from webhook_events order by id`;
    assert.deepEqual(ledger.map((row: { outcome: string }) => row.outcome), [
      "processed",
      "processed",
    ]);

    // Published again while that egress records: nothing more is started.
    assert.equal((await h.deliver(published("video", 30))).status, 200);
    assert.equal(h.startCalls(), 1);
  } finally {
    await h.close();
  }
});

Deno.test("a rejoined streamer's video and audio track_published start no egress: the room's auto egress records the new connection", async () => {
  const h = await harness();
  try {
    for (
      const event of [published("video", 0, "PA_rejoined"), published("audio", 0, "PA_rejoined")]
    ) {
      assert.equal((await h.deliver(event)).status, 200);
    }
    assert.equal(h.startCalls(), 0, "the webhook raced LiveKit's auto egress");
    // Its auto egress reports, records, and fails while the connection stays: now a publish of
    // that connection is recorded again by the webhook.
    const egress = (status: string, seconds: number): EventJson => ({
      id: `EV_${status}_${seconds}`,
      event: status === "EGRESS_ACTIVE" ? "egress_updated" : "egress_ended",
      createdAt: String(START + seconds),
      egressInfo: {
        egressId: "EG_rejoined",
        roomName: ROOM,
        status,
        ...(status === "EGRESS_FAILED" ? { error: "egress crashed" } : {}),
      },
    });
    assert.equal((await h.deliver(egress("EGRESS_ACTIVE", 2))).status, 200);
    assert.equal((await h.deliver(published("video", 3, "PA_rejoined"))).status, 200);
    assert.equal(h.startCalls(), 0, "nothing is restarted while the auto egress records");
    h.now = new Date((START + 20) * 1000);
    assert.equal((await h.deliver(egress("EGRESS_FAILED", 20))).status, 200);
    h.now = new Date((START + 21) * 1000);
    assert.equal((await h.deliver(published("video", 21, "PA_rejoined"))).status, 200);
    assert.equal(h.startCalls(), 1);
    const [egressId] = h.egressIds();
    assert.deepEqual(await h.recordings(), [
      "EG_first:ready",
      "EG_rejoined:failed",
      `${egressId}:pending`,
    ]);
  } finally {
    await h.close();
  }
});

Deno.test({
  name: "no database transaction is open while LiveKit starts the egress",
  ignore: !realPostgres,
  async fn() {
    const h = await harness();
    const observer = postgres(h.databaseUrl, { max: 1, onnotice: () => {} });
    try {
      let open: unknown[] | undefined;
      let locked: boolean | undefined;
      h.duringStart = async () => {
        open = [
          ...await observer`
          select state, left(query, 80) as query from pg_stat_activity
           where datname = current_database() and pid <> pg_backend_pid()
             and state like 'idle in transaction%'`,
        ];
        // The session's row is free: another transaction takes its lock at once.
        locked = await observer.begin(async (tx) => {
          const rows = await tx`
            select id from public.stream_sessions where id = ${SESSION} for update nowait`;
          return rows.length === 1;
        });
      };
      assert.equal((await h.deliver(published("video", 0))).status, 200);
      assert.equal(h.startCalls(), 1, "LiveKit was asked to start the egress");
      assert.deepEqual(open, [], "a transaction stayed open across StartParticipantEgress");
      assert.equal(locked, true, "the session's row was locked across StartParticipantEgress");
      assert.equal((await h.recordings()).length, 2);
    } finally {
      await observer.end();
      await h.close();
    }
  },
});

Deno.test("a LiveKit failure releases the claim, and LiveKit's retry restarts the egress", async () => {
  const h = await harness();
  try {
    const video = published("video", 0);
    h.livekit.mode = "fail";
    const failed = await h.deliver(video);
    assert.equal(failed.status, 503, JSON.stringify(failed.body));
    assert.equal((failed.body.error as { code: string }).code, "livekit_unavailable");
    assert.deepEqual(await h.claims(), [], "the failed restart left its claim behind");
    assert.deepEqual(await h.recordings(), ["EG_first:ready"]);
    const ledger = await h.sql`select 1 from webhook_events where outcome = 'processed'`;
    assert.equal(ledger.length, 0, "the failed event is not recorded, so its retry applies");

    // LiveKit retries the 503: the retry claims again and restarts.
    h.livekit.mode = "ok";
    assert.equal((await h.deliver(video)).status, 200);
    assert.equal(h.egressIds().length, 1, "one egress started, by the retry");
    const [egressId] = h.egressIds();
    assert.deepEqual(await h.recordings(), ["EG_first:ready", `${egressId}:pending`]);
    assert.deepEqual(await h.claims(), []);
  } finally {
    await h.close();
  }
});

Deno.test("a LiveKit refusal releases the claim and answers 500, which LiveKit retries", async () => {
  const h = await harness();
  try {
    const video = published("video", 0);
    // StartParticipantEgress of a room LiveKit does not have: 404, a permanent refusal.
    h.livekit.rooms.delete(ROOM);
    const refused = await h.deliver(video);
    assert.equal(refused.status, 500, JSON.stringify(refused.body));
    assert.deepEqual(await h.claims(), []);
    const [row] = await h.sql`select outcome from webhook_events where id = ${video.id}`;
    assert.equal(row.outcome, "failed", "the event is marked failed, so a retry applies it");

    h.livekit.addRoom(ROOM);
    assert.equal((await h.deliver(video)).status, 200);
    assert.equal(h.egressIds().length, 1, "one egress started, by the retry");
    assert.equal((await h.recordings()).length, 2);
  } finally {
    await h.close();
  }
});

Deno.test("a claim left by a process that died holds until it expires, then a track_published restarts", async () => {
  const h = await harness();
  try {
    // What a process that died after claiming and before asking LiveKit leaves: the committed
    // claim of its event, as private.webhook_apply took it.
    const dead = published("video", 0);
    const [claimed] = await h.sql`
      select restart_egress from private.webhook_apply(
        p_id => ${dead.id}, p_event => 'track_published', p_room => ${ROOM},
        p_payload => ${h.sql.json(dead)}, p_at => ${h.now}, p_now => ${h.now},
        p_input => ${
      h.sql.json({
        participant: {
          sid: "PA_streamer_2",
          identity: `streamer:${STREAMER}`,
          kind: "streamer",
          userId: STREAMER,
        },
        egress: null,
        recordingConfigured: true,
      })
    })`;
    assert.equal(claimed.restart_egress, true);

    // LiveKit's retries of the dead delivery and the audio event, within the claim: no egress.
    h.now = new Date((START + 10) * 1000);
    assert.equal((await h.deliver(dead)).status, 200);
    assert.equal((await h.deliver(published("audio", 10))).status, 200);
    assert.equal(h.startCalls(), 0, "a second restart started while a claim held");

    // Past its expiry, the next track_published claims and restarts.
    h.now = new Date((START + 240) * 1000);
    assert.equal((await h.deliver(published("video", 240))).status, 200);
    assert.equal(h.startCalls(), 1);
    const [egressId] = h.egressIds();
    assert.deepEqual(await h.recordings(), ["EG_first:ready", `${egressId}:pending`]);
    assert.deepEqual(await h.claims(), []);
  } finally {
    await h.close();
  }
});

Deno.test("reconcile records an egress that a dead process started but never recorded, once its claim expired", async () => {
  const h = await harness();
  try {
    // The process claimed the restart and LiveKit started the egress; then it died.
    await h.sql`
      insert into private.egress_restart_claims (session_id, event_id, claimed_at, expires_at)
      values (${SESSION}, 'EV_dead', ${h.now}, ${new Date((START + 180) * 1000)})`;
    const egressId = await startStreamerEgress(h.settings, {
      sessionId: SESSION,
      streamerId: STREAMER,
      recording: { bucket: BUCKET },
    });

    // While the claim holds, its process may still record it: reconcile leaves it.
    h.now = new Date((START + 60) * 1000);
    assert.equal((await h.reconcile()).status, 200);
    assert.deepEqual(await h.recordings(), ["EG_first:ready"]);
    assert.equal((await h.claims()).length, 1);

    h.now = new Date((START + 240) * 1000);
    const run = await h.reconcile();
    assert.equal(run.status, 200, JSON.stringify(run.body));
    assert.equal(run.body.recordingsUpdated, 1);
    assert.deepEqual(await h.recordings(), ["EG_first:ready", `${egressId}:pending`]);
    assert.deepEqual(await h.claims(), [], "reconcile drops the expired claim");
  } finally {
    await h.close();
  }
});
