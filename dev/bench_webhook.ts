/**
 * The webhook under load: realistic event streams of many sessions (joins, leaves, egress,
 * reconnects, room ends), pre-signed as LiveKit signs them, posted in order by 16 workers at
 * once. Afterwards the check replays the delivered events in order, one at a time, on a copy
 * of the same sessions and compares: nothing may be lost or different.
 */
import {
  type EventJson,
  type GeneratedSession,
  generateEvents,
  seededRandom,
  signEvent,
} from "../tests/support/webhook_events.ts";
import type postgres from "postgres";
import { RoomServiceClient } from "livekit-server-sdk";
import type { BenchContext, BenchScenario } from "./bench_scenarios.ts";

const SESSIONS = 1500;

interface Prepared {
  sessions: GeneratedSession[];
  events: { event: EventJson; body: string; authorization: string }[];
}

async function prepare(context: BenchContext, tag: string): Promise<Prepared> {
  const streamers = await context.sql<{ id: string }[]>`
    insert into auth.users (id, email)
    select gen_random_uuid(), ${tag} || '-' || n || '@bench.example.test'
      from generate_series(1, ${SESSIONS}) as n
    returning id`;
  const sessions: GeneratedSession[] = [];
  for (const { id: streamerId } of streamers) {
    const [guardian] = await context.sql<{ id: string }[]>`
      insert into guardians (streamer_id, email, status, confirmed_at)
      values (${streamerId}, ${`g-${streamerId}@bench.example.test`}, 'active', now())
      returning id`;
    const sessionId = crypto.randomUUID();
    sessions.push({
      sessionId,
      streamerId,
      roomName: `session-${sessionId}`,
      guardianIds: [guardian.id],
    });
  }
  await createSessions(context, sessions);
  const random = seededRandom(7);
  const events: Prepared["events"] = [];
  // Sessions interleave as they would on a busy server: 64 at a time, each in order.
  const streams = sessions.map((session, i) =>
    generateEvents(session, {
      random,
      start: 1_795_000_000 + Math.floor(i / 64) * 60,
      reconnect: i % 10 === 3,
      egressEnd: i % 7 === 5 ? "limit" : "complete",
    })
  );
  for (let group = 0; group < streams.length; group += 64) {
    const batch = streams.slice(group, group + 64);
    for (let step = 0; batch.some((stream) => step < stream.length); step++) {
      for (const stream of batch) {
        const event = stream[step];
        if (!event) continue;
        events.push({
          event,
          ...(await signEvent(event, context.livekit.apiKey, context.livekit.apiSecret)),
        });
      }
    }
  }
  return { sessions, events };
}

async function createSessions(context: BenchContext, sessions: GeneratedSession[]) {
  // start-session creates each room; LiveKit starts a streamer's egress only in a room that
  // exists, so the replayed reconnects find theirs.
  const rooms = new RoomServiceClient(
    context.livekit.env.LIVEKIT_URL,
    context.livekit.apiKey,
    context.livekit.apiSecret,
  );
  for (const session of sessions) await rooms.createRoom({ name: session.roomName });
  await context.sql`
    insert into stream_sessions (id, streamer_id, room_name, record, created_at)
    select (s->>'sessionId')::uuid, (s->>'streamerId')::uuid, s->>'roomName', true,
           '2026-11-01T00:00:00Z'
      from jsonb_array_elements(${
    context.sql.json(sessions as unknown as postgres.JSONValue)
  }) as s`;
}

/** What the events decided; recordings of restarted egress depend on timing, so are left out. */
async function snapshot(context: BenchContext, ids: string[], egressIds: Set<string>) {
  const sessions = await context.sql`
    select id, status, end_reason, started_at, ended_at, duration_seconds,
           viewers_current, viewers_peak, viewers_total
      from stream_sessions where id = any(${ids}) order by id`;
  const participants = await context.sql`
    select session_id, participant_sid, joined_at, left_at from session_participants
     where session_id = any(${ids}) order by session_id, participant_sid`;
  const recordings = (await context.sql<{ egress_id: string | null }[]>`
    select session_id, status, egress_id, object_path, size_bytes, truncated, ready_at
      from recordings where session_id = any(${ids})
     order by session_id, egress_id nulls first`)
    .filter((row) => !row.egress_id || egressIds.has(row.egress_id));
  return JSON.stringify({ sessions, participants, recordings });
}

/** livekit-webhook under concurrent load, with its "nothing lost" check. */
export async function webhookScenarios(context: BenchContext): Promise<BenchScenario[]> {
  const prepared = await prepare(context, "webhook");
  let next = 0;
  const url = `${context.url}/functions/v1/livekit-webhook`;
  const request = (item: Prepared["events"][number]) =>
    new Request(url, {
      method: "POST",
      headers: { authorization: item.authorization, "content-type": "application/webhook+json" },
      body: item.body,
    });

  return [{
    name: "livekit-webhook",
    request: () => {
      const item = prepared.events[next++];
      if (!item) throw new Error(`All ${prepared.events.length} prepared events were sent`);
      return request(item);
    },
    expectStatus: [200],
    async check() {
      const delivered = prepared.events.slice(0, next);
      const touched = [
        ...new Set(delivered.map(({ event }) => String(event.room?.name ?? ""))),
      ];
      const ids = prepared.sessions.filter((s) => touched.includes(s.roomName))
        .map((s) => s.sessionId);
      const [ledger] = await context.sql<{ processed: number }[]>`
        select count(*)::int as processed from webhook_events
         where outcome = 'processed' and id = any(${delivered.map(({ event }) => event.id)})`;
      const egressIds = new Set(
        delivered.map(({ event }) => event.egressInfo?.egressId).filter(Boolean) as string[],
      );
      const underLoad = await snapshot(context, ids, egressIds);
      // Replay what was delivered, in order and one at a time, onto the same sessions anew.
      await context.sql`delete from webhook_events where id = any(${
        delivered.map(({ event }) => event.id)
      })`;
      await context.sql`delete from stream_sessions where id = any(${ids})`;
      await createSessions(context, prepared.sessions.filter((s) => ids.includes(s.sessionId)));
      for (const item of delivered) {
        const response = await fetch(request(item));
        await response.body?.cancel();
        if (response.status !== 200) throw new Error(`In-order replay got ${response.status}`);
      }
      const inOrder = await snapshot(context, ids, egressIds);
      return {
        eventsDelivered: delivered.length,
        ledgerProcessed: ledger.processed,
        nothingLost: ledger.processed === delivered.length && underLoad === inOrder,
      };
    },
  }];
}
