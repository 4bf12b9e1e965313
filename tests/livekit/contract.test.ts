/**
 * The LiveKit contract: what the functions need of LiveKit's API and webhooks, run against the
 * real `livekit-server` and the embedded stand-in alike (`targets.ts`), so the stand-in that
 * machines without Go use cannot drift from the real thing.
 */
import assert from "node:assert/strict";
import {
  AccessToken,
  EgressClient,
  RoomServiceClient,
  type VideoGrant,
  type WebhookEvent,
  WebhookReceiver,
} from "livekit-server-sdk";
import { publish } from "../../dev/headset.ts";
import { createSessionRoom, recordingTargetOf } from "../../shared/livekit.ts";
import { REAL_REQUIRED, realBinary, startReal, startStandIn, type Target } from "./targets.ts";

const TARGETS: { name: string; start: () => Promise<Target>; available: boolean }[] = [
  { name: "livekit-server", start: startReal, available: realBinary !== undefined },
  // Without an egress of its own the stand-in fails auto egress, as the real server does with no
  // egress service, here at once rather than after 21 s.
  { name: "stand-in", start: () => startStandIn({ egressFailureDelayMs: 200 }), available: true },
];

async function twirp(
  target: Target,
  call: string,
  body: unknown,
  grant: VideoGrant,
  secret = target.apiSecret,
): Promise<Response> {
  const token = new AccessToken(target.apiKey, secret, { ttl: "5m" });
  token.addGrant(grant);
  return await fetch(`${target.httpUrl}/twirp/livekit.${call}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${await token.toJwt()}` },
    body: JSON.stringify(body),
  });
}

function roomName(): string {
  return `session-${crypto.randomUUID()}`;
}

/**
 * Whether `event` reports an auto egress of `room` that began: its `egress_started`, or the
 * `egress_ended` (FAILED, without an id) of one that never got an egress service.
 */
function autoEgressBegan(event: WebhookEvent, room: string): boolean {
  const info = event.egressInfo;
  if (info?.roomName !== room) return false;
  return event.event === "egress_started" || (event.event === "egress_ended" && !info.egressId);
}

async function eventually(what: string, probe: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

for (const { name, start, available } of TARGETS) {
  const ignore = !available && !REAL_REQUIRED;
  const sanitize = { sanitizeOps: false, sanitizeResources: false, ignore };

  Deno.test({
    name: `LiveKit contract (${name})`,
    ...sanitize,
    async fn(t) {
      if (!available) throw new Error("livekit-server is required here but was not found");
      const target = await start();
      const rooms = new RoomServiceClient(target.httpUrl, target.apiKey, target.apiSecret);
      const egress = new EgressClient(target.httpUrl, target.apiKey, target.apiSecret);
      try {
        await t.step("CreateRoom is idempotent and fires one signed room_started", async () => {
          const room = roomName();
          const first = await rooms.createRoom({ name: room, emptyTimeout: 600 });
          const second = await rooms.createRoom({ name: room, emptyTimeout: 600 });
          assert.equal(first.sid, second.sid);
          const started = await target.webhook((event) =>
            event.event === "room_started" && event.room?.name === room
          );
          // Signed as a bare token (no "Bearer"), over the body's sha256.
          assert.ok(started.authorization && !started.authorization.startsWith("Bearer "));
          const receiver = new WebhookReceiver(target.apiKey, target.apiSecret);
          await assert.rejects(
            receiver.receive(
              started.body.replace("room_started", "room_startes"),
              started.authorization!,
            ),
          );
          // Protobuf JSON that omits zero values: a new room has no participants field.
          const raw = JSON.parse(started.body);
          assert.equal(raw.room.numParticipants, undefined);
          assert.equal(raw.room.name, room);
          assert.equal(typeof raw.id, "string");
          assert.equal(typeof raw.createdAt, "string");
        });

        await t.step(
          "ListRooms lists created rooms; ListParticipants of an unknown room is empty",
          async () => {
            const room = roomName();
            await rooms.createRoom({ name: room });
            const listed = await rooms.listRooms([room]);
            assert.deepEqual(listed.map((r) => r.name), [room]);
            assert.deepEqual(await rooms.listParticipants(roomName()), []);
          },
        );

        await t.step("DeleteRoom of an unknown room is 404 not_found", async () => {
          const response = await twirp(target, "RoomService/DeleteRoom", { room: roomName() }, {
            roomCreate: true,
          });
          assert.equal(response.status, 404);
          assert.equal((await response.json()).code, "not_found");
        });

        await t.step("DeleteRoom of a room fires room_finished", async () => {
          const room = roomName();
          await rooms.createRoom({ name: room });
          await rooms.deleteRoom(room);
          await target.webhook((event) =>
            event.event === "room_finished" && event.room?.name === room
          );
          assert.deepEqual(await rooms.listRooms([room]), []);
        });

        await t.step("RemoveParticipant of an unknown participant is 404 not_found", async () => {
          const room = roomName();
          await rooms.createRoom({ name: room });
          const response = await twirp(
            target,
            "RoomService/RemoveParticipant",
            { room, identity: `guardian:${crypto.randomUUID()}` },
            { roomAdmin: true, room },
          );
          assert.equal(response.status, 404);
          assert.equal((await response.json()).code, "not_found");
        });

        await t.step("a missing grant is 401 unauthenticated, not 403", async () => {
          const response = await twirp(target, "RoomService/CreateRoom", { name: roomName() }, {
            roomList: true,
          });
          assert.equal(response.status, 401);
          assert.equal((await response.json()).code, "unauthenticated");
          const admin = await twirp(target, "RoomService/ListParticipants", { room: roomName() }, {
            roomAdmin: true,
            room: roomName(),
          });
          assert.equal(admin.status, 401);
          await admin.body?.cancel();
        });

        await t.step("a token signed with the wrong secret is 401", async () => {
          const response = await twirp(
            target,
            "RoomService/ListRooms",
            {},
            { roomList: true },
            "x".repeat(40),
          );
          assert.equal(response.status, 401);
          await response.body?.cancel();
        });

        await t.step("ListEgress of a room without egress is empty", async () => {
          const room = roomName();
          await rooms.createRoom({ name: room });
          assert.deepEqual(await egress.listEgress({ roomName: room }), []);
        });

        await t.step({
          name: "StartParticipantEgress in an unknown room is 404 not_found",
          ignore: !target.egress,
          fn: async () => {
            const response = await twirp(target, "Egress/StartParticipantEgress", {
              roomName: roomName(),
              identity: `streamer:${crypto.randomUUID()}`,
              file: { fileType: "MP4", filepath: "recordings/x/y/{time}.mp4" },
              preset: "H264_720P_30",
            }, { roomRecord: true });
            assert.equal(response.status, 404);
            assert.equal((await response.json()).code, "not_found");
          },
        });

        await t.step({
          name: "auto egress starts once per connection: again for a streamer who rejoined",
          ignore: !target.egress,
          fn: async () => {
            // livekit-server remembers per identity that a participant published (Room's
            // hasPublished) and forgets it when the participant leaves: livekit-webhook relies
            // on this to leave every new connection to the room's auto egress.
            const sessionId = crypto.randomUUID();
            const streamerId = crypto.randomUUID();
            const room = `session-${sessionId}`;
            const identity = `streamer:${streamerId}`;
            await createSessionRoom({
              url: target.wsUrl,
              httpUrl: target.httpUrl,
              apiKey: target.apiKey,
              apiSecret: target.apiSecret,
              timeoutSeconds: 5,
            }, {
              sessionId,
              streamerId,
              recording: recordingTargetOf({ bucket: "contract", credentials: {} }, {
                egressEncoding: "h264-720p30-opus",
              }),
            });
            const token = new AccessToken(target.apiKey, target.apiSecret, { identity, ttl: "5m" });
            token.addGrant({ room, roomJoin: true, canPublish: true, canSubscribe: false });
            const grant = {
              url: target.wsUrl,
              token: await token.toJwt(),
              roomName: room,
              identity,
            };
            const began = () =>
              target.deliveries.filter((d) => autoEgressBegan(d.event, room)).length;
            const published = () =>
              target.deliveries.filter((d) =>
                d.event.event === "track_published" && d.event.room?.name === room
              ).length;

            const first = await publish(grant);
            await eventually("the first connection's auto egress", () => began() === 1);
            await eventually("its camera and microphone", () => published() === 2);
            await new Promise((resolve) => setTimeout(resolve, 1000));
            assert.equal(began(), 1, "one auto egress for one connection, whatever its tracks");

            await first.leave();
            await target.webhook((event) =>
              event.event === "participant_left" && event.room?.name === room &&
              event.participant?.identity === identity
            );
            const second = await publish(grant);
            try {
              await eventually("the rejoined connection's auto egress", () => began() === 2);
            } finally {
              await second.leave();
              await rooms.deleteRoom(room).catch(() => {});
            }
          },
        });

        await t.step("StopEgress of an unknown egress is refused with a 4xx", async () => {
          const response = await twirp(
            target,
            "Egress/StopEgress",
            { egressId: "EG_unknown00000" },
            {
              roomRecord: true,
            },
          );
          assert.ok(response.status >= 400 && response.status < 500, `got ${response.status}`);
          await response.body?.cancel();
        });
      } finally {
        await target.stop();
      }
    },
  });
}
