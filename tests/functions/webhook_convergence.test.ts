/**
 * The webhook converges: many sessions' realistic event streams, replayed in order, in many
 * random orders, with 30% duplicates, and concurrently, leave the same sessions, participants
 * and recordings every time. The handler runs in process on a fresh database, with LiveKit's
 * API played by the loopback double (an egress restart would call it).
 *
 * In order, nothing is restarted: the room's auto egress records each streamer connection, the
 * reconnected one included. Recordings started by the handler itself (restarts) are left out of
 * the comparison of shuffled replays: a shuffle may report a connection's egress ended before
 * that connection published its second track, which looks like a connection whose egress ended
 * while it stayed, and whether that restarts depends on what was known when it arrived. Emails
 * are compared for the in-order replays, where each cause happened.
 */
import assert from "node:assert/strict";
import { RoomServiceClient } from "livekit-server-sdk";
import { closeAllDatabases, getDatabase } from "../../shared/kernel/db.ts";
import { createWebhookHandler } from "../../supabase/functions/livekit-webhook/handler.ts";
import { freshDatabase } from "../support/database.ts";
import { startLiveKitDouble } from "../support/livekit_double.ts";
import {
  type EventJson,
  type GeneratedSession,
  generateEvents,
  seededRandom,
  shuffled,
  signEvent,
} from "../support/webhook_events.ts";

const SESSIONS = 8;
const BUCKET = "recordings-bucket";

Deno.test("webhook events converge whatever their order, repetition or concurrency", async (t) => {
  const fresh = await freshDatabase({ seed: false });
  await fresh.sql.end();
  const livekit = startLiveKitDouble();
  const db = getDatabase(fresh.url, { max: fresh.kind === "pglite" ? 1 : 8 });
  try {
    const sessions = await createSessions(db.sql);
    // start-session creates each room; LiveKit starts egress only in a room that exists.
    const rooms = new RoomServiceClient(livekit.url, livekit.apiKey, livekit.apiSecret);
    for (const session of sessions) await rooms.createRoom({ name: session.roomName });
    const random = seededRandom(20261122);
    const endings = ["complete", "limit", "failed", "auto_failed"] as const;
    const streams = sessions.map((session, i) =>
      generateEvents(session, {
        random,
        start: 1_795_000_000 + i * 1000,
        reconnect: i === 4,
        egressEnd: endings[i % endings.length],
        bucket: BUCKET,
      })
    );
    const events = streams.flat();
    const egressIds = new Set(
      events.map((event) => event.egressInfo?.egressId).filter(Boolean) as string[],
    );
    const handler = createWebhookHandler({
      db,
      livekit: {
        url: livekit.url,
        httpUrl: livekit.url,
        apiKey: livekit.apiKey,
        apiSecret: livekit.apiSecret,
        timeoutSeconds: 2,
      },
      recording: { bucket: BUCKET, credentialsJson: "{}" },
      cors: { allowedOrigins: [] },
      clock: { now: () => new Date() },
      logSink: (line) => line.includes('"level":"error"') && console.error(line),
    });
    const signed = new Map<EventJson, { body: string; authorization: string }>();
    for (const event of events) {
      signed.set(event, await signEvent(event, livekit.apiKey, livekit.apiSecret));
    }

    const deliver = async (event: EventJson): Promise<void> => {
      const { body, authorization } = signed.get(event)!;
      const response = await handler(
        new Request("http://127.0.0.1/functions/v1/livekit-webhook", {
          method: "POST",
          headers: { authorization, "content-type": "application/webhook+json" },
          body,
        }),
      );
      const text = await response.text();
      assert.equal(response.status, 200, `${event.event}: ${text}`);
    };

    const replay = async (order: EventJson[], concurrency = 1) => {
      await resetSessions(db.sql, sessions);
      let next = 0;
      await Promise.all(Array.from({ length: concurrency }, async () => {
        while (next < order.length) await deliver(order[next++]);
      }));
      return await snapshot(db.sql, sessions, egressIds);
    };

    const inOrder = await replay(events);
    await t.step("in order: sessions end, viewers counted, recordings final", () => {
      const bySession = new Map(inOrder.sessions.map((s) => [s.id, s]));
      for (const [i, session] of sessions.entries()) {
        const row = bySession.get(session.sessionId)!;
        assert.equal(row.status, "ended");
        assert.equal(row.end_reason, "room_finished");
        assert.ok(row.started_at && row.ended_at);
        assert.equal(row.viewers_current, 0);
        assert.ok(
          row.viewers_peak >= 1 && row.viewers_peak <= row.viewers_total,
          JSON.stringify(row),
        );
        assert.ok(Number(row.duration_seconds) > 0);
        const recordings = inOrder.recordings.filter((r) => r.session_id === session.sessionId);
        const expected = i === 4
          // The reconnecting streamer: one recording per connection, each by its auto egress.
          ? ["ready", "ready"]
          : [
            { complete: "ready", limit: "ready", failed: "failed", auto_failed: "failed" }[
              endings[i % endings.length]
            ],
          ];
        assert.deepEqual(recordings.map((r) => r.status), expected, `session ${i}`);
      }
      const truncated = inOrder.recordings.filter((r) => r.truncated);
      assert.equal(truncated.length, 2);
      const ready = inOrder.recordings.find((r) => r.status === "ready" && !r.truncated)!;
      assert.ok(ready.object_path?.startsWith("recordings/"));
      assert.ok(Number(ready.size_bytes) > 0 && Number(ready.duration_seconds) > 0);
      // One "stream started" per active guardian who wants it, per session; one
      // "recording ready" per ready recording and such guardian.
      const started = inOrder.outbox.filter((row) => row.kind === "stream_started");
      assert.equal(started.length, SESSIONS * 2);
    });

    await t.step(
      "in order: total viewers are the connections that joined; streamers published",
      () => {
        for (const [i, session] of sessions.entries()) {
          const joined = new Set(
            streams[i].filter((event) =>
              event.event === "participant_joined" &&
              event.participant.identity.startsWith("guardian:")
            ).map((event) => event.participant.sid),
          );
          const row = inOrder.sessions.find((s) => s.id === session.sessionId)!;
          assert.equal(row.viewers_total, joined.size, `session ${i}`);
          const streamers = inOrder.participants.filter((p) =>
            p.session_id === session.sessionId && p.kind === "streamer"
          );
          assert.deepEqual(
            streamers.map((p) => p.published),
            i === 4 ? [true, true] : [true],
            `session ${i}: each streamer connection published`,
          );
        }
        const aborted = streams.flat().filter((event) =>
          event.event === "participant_connection_aborted" &&
          !streams.flat().some((other) =>
            other.event === "participant_joined" && other.participant.sid === event.participant.sid
          )
        );
        assert.ok(aborted.length > 0, "the traffic has connections aborted before they joined");
      },
    );

    await t.step("in order: no egress restarted, the reconnected streamer's included", () => {
      // LiveKit's auto egress records each new connection; a restart would be a second egress.
      assert.ok(streams[4].some((event) => event.event === "egress_started"));
      assert.equal(
        livekit.calls.filter((call) => call.method === "StartParticipantEgress").length,
        0,
      );
    });

    await t.step("in order with every event delivered twice: the same state", async () => {
      const twice = events.flatMap((event) => [event, event]);
      assert.deepEqual(await replay(twice), inOrder);
    });

    for (let round = 0; round < 10; round++) {
      await t.step(`random order ${round + 1}`, async () => {
        const result = await replay(shuffled(events, random));
        assert.deepEqual(result.sessions, inOrder.sessions);
        assert.deepEqual(result.participants, inOrder.participants);
        assert.deepEqual(result.recordings, inOrder.recordings);
      });
    }

    for (let round = 0; round < 4; round++) {
      await t.step(`random order, 30% duplicates, concurrency 8: round ${round + 1}`, async () => {
        const withDuplicates = events.flatMap((event) => random() < 0.3 ? [event, event] : [event]);
        const result = await replay(shuffled(withDuplicates, random), 8);
        assert.deepEqual(result.sessions, inOrder.sessions);
        assert.deepEqual(result.participants, inOrder.participants);
        assert.deepEqual(result.recordings, inOrder.recordings);
        const [{ count }] = await db.sql`select count(*)::int as count from webhook_events`;
        assert.equal(count, events.length);
      });
    }
  } finally {
    await closeAllDatabases();
    await livekit.close();
    await fresh.close();
  }
});

// deno-lint-ignore no-explicit-any
type Sql = any;

async function createSessions(sql: Sql): Promise<GeneratedSession[]> {
  const sessions: GeneratedSession[] = [];
  for (let i = 0; i < SESSIONS; i++) {
    const streamerId = crypto.randomUUID();
    await sql`insert into auth.users (id, email, email_confirmed_at)
              values (${streamerId}, ${`streamer${i}@example.test`}, now())`;
    const guardianIds: string[] = [];
    for (let g = 0; g < 2; g++) {
      const [row] = await sql`
        insert into guardians (streamer_id, email, status, confirmed_at)
        values (${streamerId}, ${`guardian${i}-${g}@example.test`}, 'active', now())
        returning id`;
      guardianIds.push(row.id);
    }
    const sessionId = crypto.randomUUID();
    sessions.push({ sessionId, streamerId, roomName: `session-${sessionId}`, guardianIds });
  }
  return sessions;
}

async function resetSessions(sql: Sql, sessions: GeneratedSession[]): Promise<void> {
  await sql`delete from webhook_events`;
  await sql`delete from stream_sessions`;
  for (const session of sessions) {
    await sql`
      insert into stream_sessions (id, streamer_id, room_name, record, created_at)
      values (${session.sessionId}, ${session.streamerId}, ${session.roomName}, true,
              '2026-11-01T00:00:00Z')`;
  }
}

async function snapshot(sql: Sql, sessions: GeneratedSession[], egressIds: Set<string>) {
  const ids = sessions.map((session) => session.sessionId);
  const rows = await sql`
    select id, status, end_reason, started_at, ended_at, duration_seconds,
           viewers_current, viewers_peak, viewers_total
      from stream_sessions where id = any(${ids}) order by id`;
  const participants = await sql`
    select session_id, participant_sid, identity, kind, joined_at, left_at, published
      from session_participants order by session_id, participant_sid`;
  const recordings = (await sql`
    select session_id, source, status, egress_id, object_path, size_bytes, duration_seconds,
           truncated, error, started_at, ready_at
      from recordings order by session_id, egress_id nulls first`)
    .filter((row: { egress_id: string | null }) => !row.egress_id || egressIds.has(row.egress_id));
  const outbox = await sql`
    select kind, session_id, guardian_id from notification_outbox
     where kind <> 'consent' order by kind, session_id, guardian_id`;
  // deno-lint-ignore no-explicit-any
  const plain = (result: any): any[] => [...result];
  return {
    sessions: plain(rows),
    participants: plain(participants),
    recordings: plain(recordings),
    outbox: plain(outbox),
  };
}
