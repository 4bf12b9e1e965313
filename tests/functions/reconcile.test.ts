/**
 * reconcile heals what lost webhooks left behind, with an injected clock and LiveKit's API
 * played by the loopback double; it is for the service caller only.
 */
import assert from "node:assert/strict";
import { EgressStatus } from "livekit-server-sdk";
import { fixedClock } from "../../shared/kernel/clock.ts";
import { closeAllDatabases, getDatabase } from "../../shared/kernel/db.ts";
import { createTokenVerifier } from "../../shared/kernel/auth.ts";
import { createReconcileHandler } from "../../supabase/functions/reconcile/handler.ts";
import { freshDatabase } from "../support/database.ts";
import { startLiveKitDouble } from "../support/livekit_double.ts";
import { serviceToken, TEST_SUPABASE_URL, userToken } from "../support/tokens.ts";

const SECRET = "reconcile-test-jwt-secret-of-32-characters";
const NOW = new Date("2026-11-22T12:00:00Z");
const minutesAgo = (minutes: number) => new Date(NOW.getTime() - minutes * 60_000);

Deno.test("reconcile ends abandoned and roomless sessions, refreshes recordings, deletes rooms", async (t) => {
  const fresh = await freshDatabase({ seed: false });
  await fresh.sql.end();
  const livekit = startLiveKitDouble();
  const db = getDatabase(fresh.url, { max: 1 });
  const sql = db.sql;
  const clock = fixedClock(NOW);
  const handler = createReconcileHandler({
    db,
    verifier: createTokenVerifier({
      supabaseUrl: TEST_SUPABASE_URL,
      jwtSecret: SECRET,
      remoteJwks: false,
    }),
    livekit: {
      url: livekit.url,
      httpUrl: livekit.url,
      apiKey: livekit.apiKey,
      apiSecret: livekit.apiSecret,
      timeoutSeconds: 2,
    },
    cors: { allowedOrigins: [] },
    clock,
    logSink: () => {},
  });
  const call = async (token?: string, body = "{}") => {
    const response = await handler(
      new Request("http://127.0.0.1/functions/v1/reconcile", {
        method: "POST",
        headers: token ? { authorization: `Bearer ${token}` } : {},
        body,
      }),
    );
    return { status: response.status, body: await response.json() };
  };

  async function session(
    name: string,
    status: "starting" | "live" | "ended",
    createdMinutesAgo: number,
    options: { room?: boolean } = {},
  ): Promise<string> {
    const streamer = crypto.randomUUID();
    await sql`insert into auth.users (id, email) values (${streamer}, ${`${name}@example.test`})`;
    const id = crypto.randomUUID();
    const created = minutesAgo(createdMinutesAgo);
    await sql`
      insert into stream_sessions (id, streamer_id, room_name, record, status, created_at,
                                   started_at, ended_at, end_reason)
      values (${id}, ${streamer}, ${`session-${id}`}, false, ${status}, ${created},
              ${status === "starting" ? null : created},
              ${status === "ended" ? minutesAgo(1) : null},
              ${status === "ended" ? "streamer_ended" : null})`;
    if (options.room) livekit.addRoom(`session-${id}`);
    return id;
  }

  try {
    const abandoned = await session("abandoned", "starting", 11, { room: true });
    const young = await session("young", "starting", 2, { room: true });
    const roomless = await session("roomless", "live", 30);
    const healthy = await session("healthy", "live", 30, { room: true });
    const endedWithRoom = await session("ended-room", "ended", 40, { room: true });
    const endedStuck = await session("ended-stuck", "ended", 40);
    for (const [sessionId, egressId] of [[healthy, null], [endedStuck, "EG_lost"]]) {
      await sql`
        insert into recordings (session_id, streamer_id, source, status, egress_id, created_at, updated_at)
        select id, streamer_id, 'egress', 'pending', ${egressId}, ${minutesAgo(20)}, ${
        minutesAgo(20)
      }
          from stream_sessions where id = ${sessionId}`;
    }
    livekit.addEgress({
      egressId: "EG_healthy",
      roomName: `session-${healthy}`,
      status: EgressStatus.EGRESS_ACTIVE,
    });

    await t.step("only the service caller may run it", async () => {
      assert.equal((await call()).status, 401);
      assert.equal((await call(await userToken(SECRET, crypto.randomUUID()))).status, 401);
      const extra = await call(await serviceToken(SECRET), '{"force":true}');
      assert.equal(extra.status, 400);
      assert.equal(extra.body.error.code, "invalid_request");
    });

    await t.step("one run heals everything it can", async () => {
      const result = await call(await serviceToken(SECRET));
      assert.equal(result.status, 200, JSON.stringify(result.body));
      assert.deepEqual(result.body, {
        sessionsEnded: 1,
        sessionsAbandoned: 1,
        recordingsUpdated: 2,
        recordingsExpired: 0,
      });
      const rows = await sql`select id, status, end_reason from stream_sessions`;
      const byId = new Map(rows.map((row) => [row.id, row]));
      assert.deepEqual(
        [byId.get(abandoned)!.status, byId.get(abandoned)!.end_reason],
        ["ended", "abandoned"],
      );
      assert.equal(byId.get(young)!.status, "starting");
      assert.deepEqual(
        [byId.get(roomless)!.status, byId.get(roomless)!.end_reason],
        ["ended", "room_finished"],
      );
      assert.equal(byId.get(healthy)!.status, "live");
      const recordings = await sql`select session_id, status, egress_id, error from recordings`;
      const of = (id: string) => recordings.find((row) => row.session_id === id)!;
      assert.deepEqual([of(healthy).status, of(healthy).egress_id], ["recording", "EG_healthy"]);
      assert.equal(of(endedStuck).status, "failed");
      assert.ok(of(endedStuck).error);
      assert.ok(!livekit.rooms.has(`session-${endedWithRoom}`), "the ended session's room stays");
      assert.ok(!livekit.rooms.has(`session-${abandoned}`), "the abandoned session's room stays");
      assert.ok(livekit.rooms.has(`session-${healthy}`));
    });

    await t.step("a second run changes nothing", async () => {
      const again = await call(await serviceToken(SECRET));
      assert.deepEqual(again.body, {
        sessionsEnded: 0,
        sessionsAbandoned: 0,
        recordingsUpdated: 0,
        recordingsExpired: 0,
      });
    });

    await t.step("time passing abandons the young session", async () => {
      clock.advance(9 * 60);
      const later = await call(await serviceToken(SECRET));
      assert.equal(later.body.sessionsAbandoned, 1);
    });

    await t.step(
      "expired idempotency keys, old rate-limit windows and ledger rows go",
      async () => {
        const now = clock.now();
        const user = crypto.randomUUID();
        await sql`insert into auth.users (id, email) values (${user}, 'keys@example.test')`;
        await sql`
        insert into idempotency_keys (user_id, operation, key, request_hash, created_at, expires_at)
        values (${user}, 'start-session', 'expired-key-1', 'h', ${minutesAgo(3000)},
                ${new Date(now.getTime() - 60_000)}),
               (${user}, 'start-session', 'current-key-1', 'h', ${now},
                ${new Date(now.getTime() + 3_600_000)})`;
        await sql`
        insert into rate_limit_buckets (key, window_start, hits)
        values ('old', ${new Date(now.getTime() - 2 * 86_400_000)}, 3), ('new', ${now}, 1)`;
        await sql`
        insert into webhook_events (id, event, outcome, received_at, payload)
        values ('EV_old', 'room_started', 'processed', ${new Date(
          now.getTime() - 31 * 86_400_000,
        )}, '{}'),
               ('EV_new', 'room_started', 'processed', ${now}, '{}')`;
        assert.equal((await call(await serviceToken(SECRET))).status, 200);
        const keys = await sql`select key from idempotency_keys`;
        assert.deepEqual(keys.map((row) => row.key), ["current-key-1"]);
        const buckets = await sql`select key from rate_limit_buckets`;
        assert.deepEqual(buckets.map((row) => row.key), ["new"]);
        const events = await sql`select id from webhook_events`;
        assert.deepEqual(events.map((row) => row.id), ["EV_new"]);
      },
    );

    await t.step("LiveKit down: 503 livekit_unavailable", async () => {
      livekit.mode = "fail";
      const down = await call(await serviceToken(SECRET));
      livekit.mode = "ok";
      assert.equal(down.status, 503);
      assert.equal(down.body.error.code, "livekit_unavailable");
    });
  } finally {
    await closeAllDatabases();
    await livekit.close();
    await fresh.close();
  }
});
