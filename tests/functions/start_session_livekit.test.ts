/**
 * start-session and LiveKit's CreateRoom (supabase/functions/start-session/handler.ts): no
 * database transaction stays open while LiveKit answers, a failed room takes the start back
 * (no session, the key free again) under concurrency too, and a start whose process died
 * between committing the session and creating the room heals on its client's retry.
 */
import assert from "node:assert/strict";
import { STREAMER_A } from "../../dev/seed_ids.ts";
import { apiClient, assertError } from "../support/api.ts";
import { startLiveKitDouble } from "../support/livekit_double.ts";
import { startServer } from "../support/stack.ts";
import { userToken } from "../support/tokens.ts";

/** Tests that read the database while the server runs need a server of their own (not PGlite). */
const realPostgres = Boolean(Deno.env.get("TEST_DATABASE_URL"));

async function harness(timeoutSeconds = "1") {
  const livekit = startLiveKitDouble();
  const server = await startServer({
    env: { ...livekit.env, LIVEKIT_TIMEOUT_SECONDS: timeoutSeconds },
  });
  const token = await userToken(server.env.SUPABASE_JWT_SECRET, STREAMER_A);
  return {
    livekit,
    server,
    token,
    api: apiClient(server.url),
    createRoomCalls: () => livekit.calls.filter((call) => call.method === "CreateRoom"),
    async stop() {
      await server.stop();
      await livekit.close();
    },
  };
}

async function until(what: string, probe: () => boolean, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

Deno.test({
  name: "start-session commits the session before CreateRoom and holds no transaction open",
  ignore: !realPostgres,
  async fn() {
    const h = await harness("3");
    try {
      h.livekit.mode = "hang";
      const pending = h.api.post("start-session", {}, { token: h.token });
      await until("CreateRoom", () => h.createRoomCalls().length === 1);

      // While LiveKit has not answered, the session is committed (starting) and no connection
      // of the server sits in a transaction.
      const [row] = await h.server.sql<{ id: string }[]>`
        select id from public.stream_sessions
         where streamer_id = ${STREAMER_A} and status = 'starting'`;
      assert.ok(row, "the session is not committed while LiveKit answers");
      const open = await h.server.sql<{ state: string; query: string }[]>`
        select state, query from pg_stat_activity
         where datname = current_database() and pid <> pg_backend_pid()
           and state like 'idle in transaction%'`;
      assert.deepEqual([...open], [], "a transaction stayed open across CreateRoom");

      assertError(await pending, 503, "livekit_unavailable");
      const after = await h.server.sql`
        select 1 from public.stream_sessions where id = ${row.id}`;
      assert.equal(after.length, 0, "the failed start left its session behind");
      const recordings = await h.server.sql`
        select 1 from public.recordings where session_id = ${row.id}`;
      assert.equal(recordings.length, 0, "the failed start left its pending recording behind");
    } finally {
      await h.stop();
    }
  },
});

Deno.test("concurrent starts while LiveKit fails leave no session and free every key", async () => {
  const h = await harness();
  try {
    h.livekit.mode = "fail";
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        h.api.post("start-session", {}, {
          token: h.token,
          headers: i % 2 === 0 ? { "idempotency-key": `concurrent-key-${i}` } : {},
        })),
    );
    for (const result of results) {
      assert.ok(
        result.status === 503 || result.status === 409,
        `got ${result.status} ${JSON.stringify(result.body)}`,
      );
    }
    assert.ok(results.some((result) => result.status === 503));
    const list = await h.api.get("streams", { token: h.token });
    assert.deepEqual(list.body.streams, []);

    h.livekit.mode = "ok";
    const retried = await h.api.post("start-session", {}, {
      token: h.token,
      headers: { "idempotency-key": "concurrent-key-0" },
    });
    assert.equal(retried.status, 201, "the key of a failed start is free again");
    assert.ok(h.livekit.rooms.has(retried.body.session.roomName));
    // One live or starting session per streamer: a start now is refused.
    assertError(
      await h.api.post("start-session", {}, { token: h.token }),
      409,
      "session_already_live",
    );
  } finally {
    await h.stop();
  }
});

Deno.test({
  name: "a start that died before CreateRoom is healed by its key's replay, which creates the room",
  ignore: !realPostgres,
  async fn() {
    const h = await harness();
    try {
      // What a process that died between the two steps leaves: the committed session and its
      // key, and no room. The request hash is that of the body `{}` as start-session reads it.
      const hash = [
        ...new Uint8Array(
          await crypto.subtle.digest("SHA-256", new TextEncoder().encode('{"record":true}')),
        ),
      ].map((byte) => byte.toString(16).padStart(2, "0")).join("");
      const sessionId = crypto.randomUUID();
      const [start] = await h.server.sql<{ outcome: string }[]>`
        select outcome from private.user_start_session(
          p_claims => ${JSON.stringify({ sub: STREAMER_A, role: "authenticated" })},
          p_rate_key => 'crash-test', p_rate_limit => 10, p_rate_window_seconds => 60,
          p_idempotency_key => 'crashed-key-0001', p_request_hash => ${hash},
          p_key_expires_at => ${new Date(Date.now() + 3600_000)},
          p_session_id => ${sessionId}, p_room_name => ${`session-${sessionId}`},
          p_title => null, p_record => false, p_client => '{}', p_now => ${new Date()})`;
      assert.equal(start.outcome, "created");

      // A replay while LiveKit is down: 503, and the session is not the replay's to take back.
      h.livekit.mode = "fail";
      const failed = await h.api.post("start-session", {}, {
        token: h.token,
        headers: { "idempotency-key": "crashed-key-0001" },
      });
      assertError(failed, 503, "livekit_unavailable");
      const kept = await h.api.get(`streams?sessionId=${sessionId}`, { token: h.token });
      assert.equal(kept.body.session.status, "starting");

      h.livekit.mode = "ok";
      const replay = await h.api.post("start-session", {}, {
        token: h.token,
        headers: { "idempotency-key": "crashed-key-0001" },
      });
      assert.equal(replay.status, 200, JSON.stringify(replay.body));
      assert.equal(replay.body.session.id, sessionId);
      assert.equal(replay.body.livekit.roomName, `session-${sessionId}`);
      assert.ok(h.livekit.rooms.has(`session-${sessionId}`), "the replay created the room");
    } finally {
      await h.stop();
    }
  },
});

Deno.test("a replay of an ended session asks LiveKit for nothing", async () => {
  const h = await harness();
  try {
    const first = await h.api.post("start-session", {}, {
      token: h.token,
      headers: { "idempotency-key": "live-key-0001" },
    });
    assert.equal(first.status, 201);
    assert.equal(h.createRoomCalls().length, 1);
    const ended = await h.api.post("end-session", { sessionId: first.body.session.id }, {
      token: h.token,
    });
    assert.equal(ended.status, 200);
    const replay = await h.api.post("start-session", {}, {
      token: h.token,
      headers: { "idempotency-key": "live-key-0001" },
    });
    assert.equal(replay.status, 200);
    assert.equal(replay.body.livekit, null, "an ended session gets no grant");
    assert.equal(h.createRoomCalls().length, 1, "an ended session's room is not created again");
  } finally {
    await h.stop();
  }
});
