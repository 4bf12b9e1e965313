/**
 * The main job end to end on the real LiveKit stack: the local server (a fresh database), the
 * real livekit-server posting signed webhooks to `livekit-webhook` (through a relay of the
 * test's own that can lose them), the real egress service (with Redis) recording to the local
 * bucket, and rtc-node headsets and viewers joining with the grants the functions hand out.
 * Needs the binaries of `dev/build_livekit.sh`; without them it is skipped, unless
 * `LIVEKIT_E2E=required` (CI). It reads the database while the server runs, so it needs a
 * PostgreSQL server (`TEST_DATABASE_URL`), not the embedded PGlite.
 */
import assert from "node:assert/strict";
import { EgressClient, EgressStatus, RoomServiceClient } from "livekit-server-sdk";
import { publish, type Publisher, watch } from "../../dev/headset.ts";
import { findMediaBinaries } from "../../dev/livekit_binaries.ts";
import { startLocalBucket } from "../../dev/local_bucket.ts";
import { startMediaStack } from "../../dev/media_stack.ts";
import { freePort } from "../../dev/service_process.ts";
import { GUARDIAN_A_ROW, STREAMER_A } from "../../dev/seed_ids.ts";
import { createLinkSigner } from "../../shared/kernel/link.ts";
import { apiClient } from "../support/api.ts";
import { startServer, testSecret } from "../support/stack.ts";
import { serviceToken, userToken } from "../support/tokens.ts";

const binaries = await findMediaBinaries({ build: false, log: () => {} });
const available = Boolean(
  binaries.livekitServer && binaries.egress && binaries.redis &&
    Deno.env.get("TEST_DATABASE_URL"),
);
const required = Deno.env.get("LIVEKIT_E2E") === "required";
/** A second active guardian of streamer A, added by the test. */
const SECOND_GUARDIAN = "4e4e4e4e-0000-4000-8000-000000000002";

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  ms = 30_000,
  seen?: () => Promise<unknown>,
) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const last = seen ? `; last seen: ${JSON.stringify(await seen())}` : "";
  throw new Error(`Timed out waiting for ${what}${last}`);
}

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Forwards LiveKit's webhooks to the server unchanged; while `drop` is set it answers 200 to a
 * `room_finished` without forwarding it, as a webhook lost on the way would be.
 */
function startRelay(target: string) {
  const dropped: string[] = [];
  const relay = {
    drop: false,
    dropped,
    url: "",
    server: Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
      const body = await request.text();
      const event = JSON.parse(body) as { event?: string; room?: { name?: string } };
      if (relay.drop && event.event === "room_finished") {
        dropped.push(event.room?.name ?? "");
        return new Response("ok");
      }
      const forwarded = await fetch(target, { method: "POST", headers: request.headers, body });
      return new Response(await forwarded.text(), { status: forwarded.status });
    }),
  };
  relay.url = `http://127.0.0.1:${relay.server.addr.port}/`;
  return relay;
}

Deno.test({
  name: "a headset streams on the real stack: viewers, a rejoin, recording, emails, reconcile",
  ignore: !available && !required,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    if (!available) {
      throw new Error(
        `The real stack and TEST_DATABASE_URL are required here: ${
          JSON.stringify(binaries.missing)
        }`,
      );
    }
    const apiKey = "APIe2e";
    const apiSecret = testSecret();
    const port = freePort();
    const workDir = await Deno.makeTempDir({ prefix: "vrstream-e2e-" });
    const bucket = await startLocalBucket();
    const relay = startRelay(`http://127.0.0.1:${port}/functions/v1/livekit-webhook`);
    const media = await startMediaStack({
      apiKey,
      apiSecret,
      port: 0,
      webhookUrl: relay.url,
      bucket,
      workDir,
      build: false,
      log: () => {},
    });
    const server = await startServer({
      env: {
        ...bucket.env,
        LIVEKIT_URL: media.url,
        LIVEKIT_API_KEY: apiKey,
        LIVEKIT_API_SECRET: apiSecret,
        EGRESS_ENCODING: "h264-720p30-opus",
      },
      args: ["--port", String(port)],
    });
    const headsets: { leave(): Promise<void> }[] = [];
    try {
      assert.equal(media.kind, "livekit-server");
      assert.ok(media.egress);
      const api = apiClient(server.url);
      const secret = server.env.SUPABASE_JWT_SECRET;
      const streamer = await userToken(secret, STREAMER_A);
      const service = await serviceToken(secret);
      const links = createLinkSigner(server.env.LINK_SIGNING_SECRET);
      const rooms = new RoomServiceClient(media.httpUrl, apiKey, apiSecret);
      const egresses = new EgressClient(media.httpUrl, apiKey, apiSecret);
      const sql = server.sql;

      // Two active guardians who want both the "stream started" and the "stream ended" email.
      await sql`
        insert into public.guardians
          (id, streamer_id, email, name, role, status, confirmed_at, notify_stream_ended)
        values (${SECOND_GUARDIAN}, ${STREAMER_A}, 'grandma@example.test', 'Grandma', 'viewer',
                'active', now(), true)`;
      await sql`update public.guardians set notify_stream_ended = true where id = ${GUARDIAN_A_ROW}`;
      const optedIn = (await sql<{ id: string }[]>`
        select id from public.guardians
         where streamer_id = ${STREAMER_A} and status = 'active'`).map((row) => row.id).sort();
      assert.equal(optedIn.length, 2);

      const session = async (id: string) => {
        const { body } = await api.get(`streams?sessionId=${id}`, { token: streamer });
        return body;
      };
      const viewerGrant = async (guardianId: string, sessionId: string) => {
        const link = await links.sign({ type: "watch", guardianId, objectId: sessionId });
        const response = await api.post("livekit-token", { link });
        assert.equal(response.status, 200, JSON.stringify(response.body));
        assert.equal(response.body.livekit.canPublish, false);
        return response.body.livekit;
      };
      /** The room's egresses that are recording now (ACTIVE; a STARTING one may still fail). */
      const recordingEgresses = async (roomName: string) => {
        const items = await egresses.listEgress({ roomName });
        return items.filter((item) => item.status === EgressStatus.EGRESS_ACTIVE);
      };

      const started = await api.post("start-session", { title: "E2E" }, { token: streamer });
      assert.equal(started.status, 201, JSON.stringify(started.body));
      const sessionId: string = started.body.session.id;
      const roomName: string = started.body.livekit.roomName;
      let headset: Publisher = await publish(started.body.livekit);
      headsets.push(headset);
      assert.equal(headset.kind, "rtc");

      await t.step("live through the real server's signed webhooks; egress records", async () => {
        await until(
          "live",
          async () => (await session(sessionId)).session.status === "live" || undefined,
        );
        for (const event of ["room_started", "participant_joined", "track_published"]) {
          await until(`${event} in the webhook ledger`, async () =>
            (await sql`
              select 1 from public.webhook_events
               where room_name = ${roomName} and event = ${event}`).length > 0 || undefined);
        }
        await until(
          "the egress",
          async () => (await recordingEgresses(roomName)).length === 1 || undefined,
        );
      });

      const viewers: { leave(): Promise<void> }[] = [];
      await t.step("a viewer grant cannot publish, and its viewer stays connected", async () => {
        const viewer = await watch(await viewerGrant(GUARDIAN_A_ROW, sessionId));
        viewers.push(viewer);
        assert.equal(await viewer.tryPublish(4000), "refused");
        const participants = await rooms.listParticipants(roomName);
        const me = participants.find((p) => p.identity === `guardian:${GUARDIAN_A_ROW}`);
        assert.ok(me, "the viewer is still in the room");
        assert.equal(me.tracks.length, 0, "the viewer published nothing");
        const published = await sql`
          select 1 from public.webhook_events
           where room_name = ${roomName} and event = 'track_published'
             and payload -> 'participant' ->> 'identity' = ${`guardian:${GUARDIAN_A_ROW}`}`;
        assert.equal(published.length, 0);
      });

      await t.step("a second viewer is counted, the recorder is not", async () => {
        viewers.push(await watch(await viewerGrant(SECOND_GUARDIAN, sessionId)));
        const counted = await until("two viewers", async () => {
          const { viewers } = (await session(sessionId)).session;
          return viewers.current === 2 ? viewers : undefined;
        });
        assert.equal(counted.total, 2);
        const participants = await rooms.listParticipants(roomName);
        assert.ok(
          participants.some((p) => p.identity.startsWith("EG_")),
          `the recorder is in the room: ${participants.map((p) => p.identity)}`,
        );
        await sleep(1000);
        assert.equal((await session(sessionId)).session.viewers.current, 2);
        for (const viewer of viewers) await viewer.leave();
        await until(
          "no viewers",
          async () => (await session(sessionId)).session.viewers.current === 0 || undefined,
        );
      });

      await t.step(
        "the headset drops and rejoins: still live, recorded again, never two egresses",
        async () => {
          const before = (await recordingEgresses(roomName)).map((e) => e.egressId);
          await headset.leave();
          await sleep(1500);
          const grant = await api.post("livekit-token", { sessionId }, { token: streamer });
          assert.equal(grant.status, 200);
          headset = await publish(grant.body.livekit);
          headsets.push(headset);
          // Each published track is an event that might restart the streamer's egress; LiveKit's
          // auto egress records the new connection, and at no time do two egresses record it.
          for (let i = 0; i < 20; i++) {
            const active = await recordingEgresses(roomName);
            assert.ok(active.length <= 1, `two egresses at once: ${active.map((e) => e.egressId)}`);
            await sleep(250);
          }
          const [again] = await until(
            "the rejoined connection's egress",
            async () => {
              const active = await recordingEgresses(roomName);
              return active.length === 1 && !before.includes(active[0].egressId)
                ? active
                : undefined;
            },
            30_000,
            async () => ({
              egresses: (await egresses.listEgress({ roomName })).map((e) =>
                `${e.egressId}:${EgressStatus[e.status]}:${e.error}`
              ),
              events: (await sql<{ event: string; outcome: string }[]>`
                select event, outcome from public.webhook_events where room_name = ${roomName}
                 order by received_at`).map((row) => `${row.event}:${row.outcome}`),
            }),
          );
          await until("its recording", async () =>
            (await sql`
              select 1 from public.recordings
               where session_id = ${sessionId} and egress_id = ${again.egressId}
                 and status = 'recording'`).length > 0 || undefined);
          assert.equal((await session(sessionId)).session.status, "live");
          const failed = await sql`
          select 1 from public.webhook_events where room_name = ${roomName} and outcome = 'failed'`;
          assert.equal(failed.length, 0, "every event of the rejoin was applied");
        },
      );

      await t.step(
        "end-session deletes the room; room_finished; one ended email each",
        async () => {
          await headset.leave();
          const ended = await api.post("end-session", { sessionId }, { token: streamer });
          assert.equal(ended.status, 200);
          assert.equal(ended.body.session.status, "ended");
          assert.deepEqual(await rooms.listRooms([roomName]), []);
          await until("room_finished", async () =>
            (await sql`
            select 1 from public.webhook_events
             where room_name = ${roomName} and event = 'room_finished'`).length > 0 || undefined);
          assert.equal((await session(sessionId)).session.endReason, "streamer_ended");

          const drained = await api.post("send-notification", {}, { token: service });
          assert.equal(drained.status, 200);
          const emails = await sql<{ kind: string; guardian_id: string }[]>`
          select o.kind, o.guardian_id from public.captured_emails c
            join public.notification_outbox o on o.id = c.notification_id
           where o.session_id = ${sessionId} and o.kind in ('stream_started', 'stream_ended')`;
          for (const kind of ["stream_started", "stream_ended"]) {
            assert.deepEqual(
              emails.filter((e) => e.kind === kind).map((e) => e.guardian_id).sort(),
              optedIn,
              `exactly one ${kind} email per opted-in guardian`,
            );
          }
        },
      );

      await t.step("real egress wrote an MP4 (H.264) that recording-url serves", async () => {
        const ready = await until(
          "a ready recording",
          async () => {
            const { recordings } = await session(sessionId);
            const done = recordings.filter((r: { status: string }) => r.status === "ready");
            return done.length > 0 ? done : undefined;
          },
          60_000,
          async () => (await session(sessionId)).recordings,
        );
        for (const recording of ready) {
          assert.ok(recording.durationSeconds > 1, JSON.stringify(recording));
          const signed = await api.get(`recording-url?recordingId=${recording.id}`, {
            token: streamer,
          });
          assert.equal(signed.status, 200);
          const mp4 = new Uint8Array(await (await fetch(signed.body.url)).arrayBuffer());
          assert.equal(mp4.byteLength, recording.sizeBytes);
          const boxes = new TextDecoder("latin1").decode(mp4);
          assert.ok(boxes.includes("ftyp"), "an MP4");
          assert.ok(boxes.includes("avc1"), "H.264 video (avc1)");
          assert.ok(boxes.includes("mvhd"), "a movie header, so the file is finished");
        }
      });

      await t.step("reconcile ends a session whose room vanished with its webhook", async () => {
        const next = await api.post("start-session", { record: false }, { token: streamer });
        assert.equal(next.status, 201);
        const id = next.body.session.id;
        const room = next.body.livekit.roomName;
        const second = await publish(next.body.livekit);
        headsets.push(second);
        await until("live", async () => (await session(id)).session.status === "live" || undefined);
        relay.drop = true;
        await rooms.deleteRoom(room);
        await until(
          "the lost room_finished",
          () => Promise.resolve(relay.dropped.includes(room) || undefined),
        );
        relay.drop = false;
        assert.equal((await session(id)).session.status, "live", "nothing told the database");
        // Older than reconcile's settling minute, as a session would be by its next run.
        await sql`
          update public.stream_sessions set created_at = created_at - interval '5 minutes'
           where id = ${id}`;
        const healed = await api.post("reconcile", {}, { token: service });
        assert.equal(healed.status, 200, JSON.stringify(healed.body));
        assert.equal(healed.body.sessionsEnded, 1);
        const after = (await session(id)).session;
        assert.equal(after.status, "ended");
        assert.equal(after.endReason, "room_finished");
      });
    } finally {
      for (const headset of headsets) await headset.leave().catch(() => {});
      await server.stop();
      await media.stop();
      await bucket.stop();
      await relay.server.shutdown();
      await Deno.remove(workDir, { recursive: true }).catch(() => {});
    }
  },
});
