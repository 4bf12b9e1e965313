/**
 * livekit-webhook's effects that depend on what LiveKit reports, in process on a fresh
 * database: a connection aborted before it joined counts no viewer, an auto egress that failed
 * without an egress id fails the session's recording with its reason, both in any order of
 * delivery; and the outbox is drained when, and only when, an event queued email (the typed
 * `emails_queued` of `private.webhook_apply`, not the wording of its outcome).
 */
import assert from "node:assert/strict";
import { closeAllDatabases, getDatabase } from "../../shared/kernel/db.ts";
import type { DrainRequester } from "../../shared/outbox_drain.ts";
import { createWebhookHandler } from "../../supabase/functions/livekit-webhook/handler.ts";
import { freshDatabase } from "../support/database.ts";
import { type EventJson, seededRandom, shuffled, signEvent } from "../support/webhook_events.ts";

const API_KEY = "APIeffects";
const API_SECRET = "an-api-secret-for-the-webhook-effects-test";
const STREAMER = "5e000000-0000-4000-8000-00000000e001";
const GUARDIAN = "9a000000-0000-4000-8000-00000000e002";
const SESSION = "5e550000-0000-4000-8000-00000000e003";
const ROOM = `session-${SESSION}`;
const START = 1_795_000_000;

// deno-lint-ignore no-explicit-any
type Sql = any;

/** An event of the test session, `seconds` after START. */
function event(name: string, seconds: number, fields: EventJson = {}): EventJson {
  return {
    id: `EV_${name}_${seconds}_${crypto.randomUUID().slice(0, 8)}`,
    event: name,
    createdAt: String(START + seconds),
    room: { name: ROOM, sid: "RM_effects" },
    ...fields,
  };
}

function streamer(sid: string) {
  return { sid, identity: `streamer:${STREAMER}` };
}

/** A guardian's viewer connection; the identity's device suffix is the sid's letters. */
function viewer(sid: string) {
  return { sid, identity: `guardian:${GUARDIAN}:${sid.replace("_", "").toLowerCase()}` };
}

function failedAutoEgress(seconds: number): EventJson {
  // As LiveKit reports an auto egress that never started: no egressId, no room object.
  return {
    id: `EV_auto_failed_${seconds}`,
    event: "egress_ended",
    createdAt: String(START + seconds),
    egressInfo: { roomName: ROOM, status: "EGRESS_FAILED", error: "no response from servers" },
  };
}

function egressStarted(seconds: number): EventJson {
  return {
    id: `EV_egress_started_${seconds}`,
    event: "egress_started",
    createdAt: String(START + seconds),
    egressInfo: {
      egressId: "EG_effects_1",
      roomName: ROOM,
      status: "EGRESS_ACTIVE",
      startedAt: String(BigInt(START + seconds) * 1_000_000_000n),
    },
  };
}

interface Harness {
  sql: Sql;
  drains: number;
  /** Recreates the session (starting, recorded) with no events seen. */
  reset(): Promise<void>;
  deliver(events: EventJson[]): Promise<void>;
  close(): Promise<void>;
}

async function harness(): Promise<Harness> {
  const fresh = await freshDatabase({ seed: false });
  await fresh.sql.end();
  const db = getDatabase(fresh.url, { max: 1 });
  const sql = db.sql;
  await sql`insert into auth.users (id, email, email_confirmed_at)
            values (${STREAMER}, 'effects-streamer@example.test', now())`;
  await sql`insert into guardians (id, streamer_id, email, status, confirmed_at)
            values (${GUARDIAN}, ${STREAMER}, 'effects-guardian@example.test', 'active', now())`;
  const drain: DrainRequester = {
    request() {
      state.drains++;
    },
    requestNow() {
      throw new Error("The webhook never waits for a drain");
    },
  };
  const handler = createWebhookHandler({
    db,
    livekit: {
      url: "ws://127.0.0.1:1",
      httpUrl: "http://127.0.0.1:1",
      apiKey: API_KEY,
      apiSecret: API_SECRET,
      timeoutSeconds: 1,
    },
    drain,
    cors: { allowedOrigins: [] },
    clock: { now: () => new Date((START + 3600) * 1000) },
    logSink: (line) => line.includes('"level":"error"') && console.error(line),
  });
  const state: Harness = {
    sql,
    drains: 0,
    async reset() {
      await sql`delete from webhook_events`;
      await sql`delete from notification_outbox`;
      await sql`delete from stream_sessions`;
      await sql`
        insert into stream_sessions (id, streamer_id, room_name, record, created_at)
        values (${SESSION}, ${STREAMER}, ${ROOM}, true, ${new Date(START * 1000)})`;
      state.drains = 0;
    },
    async deliver(events) {
      for (const item of events) {
        const { body, authorization } = await signEvent(item, API_KEY, API_SECRET);
        const response = await handler(
          new Request("http://127.0.0.1/functions/v1/livekit-webhook", {
            method: "POST",
            headers: { authorization, "content-type": "application/webhook+json" },
            body,
          }),
        );
        const text = await response.text();
        assert.equal(response.status, 200, `${item.event}: ${text}`);
      }
    },
    async close() {
      await closeAllDatabases();
      await fresh.close();
    },
  };
  return state;
}

async function viewerFigures(sql: Sql) {
  const [row] = await sql`
    select viewers_current as current, viewers_peak as peak, viewers_total as total
      from stream_sessions where id = ${SESSION}`;
  return { ...row };
}

async function participantRows(sql: Sql) {
  const rows = await sql`
    select participant_sid, kind, joined_at, left_at, joined from session_participants
     where session_id = ${SESSION} order by participant_sid`;
  return rows.map((row: Record<string, unknown>) => ({ ...row }));
}

async function recordingRows(sql: Sql) {
  const rows = await sql`
    select status, egress_id, error from recordings
     where session_id = ${SESSION} order by egress_id nulls first`;
  return rows.map((row: Record<string, unknown>) => ({ ...row }));
}

Deno.test("a connection aborted before it joined counts no viewer, in any order", async () => {
  const h = await harness();
  try {
    const events = [
      event("participant_joined", 0, { participant: streamer("PA_S") }),
      // A: joined, then its connection aborted: it was a viewer, who left.
      event("participant_joined", 10, { participant: viewer("PA_A") }),
      event("participant_connection_aborted", 30, { participant: viewer("PA_A") }),
      // B: never joined (LiveKit sends no participant_joined for it): no viewer.
      event("participant_connection_aborted", 20, { participant: viewer("PA_B") }),
      // C: joined and left.
      event("participant_joined", 20, { participant: viewer("PA_C") }),
      event("participant_left", 40, { participant: viewer("PA_C") }),
    ];
    await h.reset();
    await h.deliver(events);
    const figures = await viewerFigures(h.sql);
    assert.deepEqual(figures, { current: 0, peak: 2, total: 2 });
    const rows = await participantRows(h.sql);
    assert.deepEqual(
      rows.map((row: { participant_sid: string; joined: boolean }) => [
        row.participant_sid,
        row.joined,
      ]),
      [["PA_A", true], ["PA_B", false], ["PA_C", true], ["PA_S", true]],
    );

    const random = seededRandom(20261206);
    const orders = [
      [...events].reverse(),
      ...Array.from({ length: 6 }, () => shuffled(events, random)),
    ];
    for (const order of orders) {
      await h.reset();
      await h.deliver(order);
      const label = order.map((item) => `${item.event}:${item.participant?.sid}`).join(", ");
      assert.deepEqual(await viewerFigures(h.sql), figures, label);
      assert.deepEqual(await participantRows(h.sql), rows, label);
    }

    // A connection aborted alone, before the session even went live, counts nobody either.
    await h.reset();
    await h.deliver([event("participant_connection_aborted", 5, { participant: viewer("PA_D") })]);
    assert.deepEqual(await viewerFigures(h.sql), { current: 0, peak: 0, total: 0 });
  } finally {
    await h.close();
  }
});

Deno.test("an auto egress that failed without an id fails the recording with its reason, in any order", async (t) => {
  const h = await harness();
  try {
    const joined = event("participant_joined", 0, { participant: streamer("PA_S") });
    const finished = event("room_finished", 30);
    const failed = failedAutoEgress(51);
    const expected = [{ status: "failed", egress_id: null, error: "no response from servers" }];

    for (
      const [name, order] of [
        ["after room_finished", [joined, finished, failed]],
        ["before the streamer joined", [failed, joined, finished]],
        ["while live", [joined, failed, finished]],
        ["delivered twice", [joined, failed, finished, failed]],
      ] as const
    ) {
      await t.step(name, async () => {
        await h.reset();
        await h.deliver([...order]);
        assert.deepEqual(await recordingRows(h.sql), expected);
        const [session] = await h.sql`select status from stream_sessions where id = ${SESSION}`;
        assert.equal(session.status, "ended");
      });
    }

    await t.step("with an egress that reported its id, before or after the failure", async () => {
      const started = egressStarted(5);
      const both = [
        { status: "failed", egress_id: null, error: "no response from servers" },
        { status: "recording", egress_id: "EG_effects_1", error: null },
      ];
      for (const order of [[joined, started, failed], [joined, failed, started]]) {
        await h.reset();
        await h.deliver(order);
        assert.deepEqual(await recordingRows(h.sql), both, order.map((e) => e.event).join(", "));
      }
    });
  } finally {
    await h.close();
  }
});

Deno.test("the outbox is drained after an event that queued email, and only then", async () => {
  const h = await harness();
  try {
    await h.reset();
    // The guardian wants "stream started" and "recording ready" (the defaults), not "ended".
    const live = event("participant_joined", 0, { participant: streamer("PA_S") });
    await h.deliver([live]);
    assert.equal(h.drains, 1, "the session went live and queued a stream started email");

    await h.deliver([live]);
    assert.equal(h.drains, 1, "a duplicate queues nothing");

    await h.deliver([
      event("participant_joined", 5, { participant: viewer("PA_V") }),
      event("track_published", 6, { participant: streamer("PA_S") }),
      event("room_finished", 30),
    ]);
    assert.equal(h.drains, 1, "a viewer, a track and an end nobody wants an email of queue none");

    await h.deliver([{
      id: "EV_ready",
      event: "egress_ended",
      createdAt: String(START + 32),
      egressInfo: {
        egressId: "EG_ready",
        roomName: ROOM,
        status: "EGRESS_COMPLETE",
        startedAt: String(BigInt(START + 1) * 1_000_000_000n),
        endedAt: String(BigInt(START + 31) * 1_000_000_000n),
      },
    }]);
    assert.equal(h.drains, 2, "the recording became ready and queued its email");
    const [{ count }] = await h.sql`
      select count(*)::int as count from notification_outbox where session_id = ${SESSION}`;
    assert.equal(count, 2);
  } finally {
    await h.close();
  }
});
