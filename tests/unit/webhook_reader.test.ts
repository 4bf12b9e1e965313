/**
 * livekit-webhook's reader (supabase/functions/livekit-webhook/events.ts): a verified event
 * becomes the typed input of `private.webhook_apply` without any decision on its name, and only
 * the streamer's and viewers' connections are participants.
 */
import assert from "node:assert/strict";
import {
  eventTime,
  readEvent,
  readParticipant,
  roomOf,
} from "../../supabase/functions/livekit-webhook/events.ts";

const STREAMER = "5e000000-0000-4000-8000-000000000001";
const GUARDIAN = "9a000000-0000-4000-8000-000000000002";
const SESSION = "5e550000-0000-4000-8000-000000000003";
const RECORDING = { bucket: "recordings-bucket" };

Deno.test("readEvent reads the streamer's connection with its user id", () => {
  const input = readEvent({
    id: "EV_1",
    event: "participant_joined",
    room: { name: `session-${SESSION}` },
    participant: { sid: "PA_1", identity: `streamer:${STREAMER}` },
  });
  assert.deepEqual(input, {
    participant: {
      sid: "PA_1",
      identity: `streamer:${STREAMER}`,
      kind: "streamer",
      userId: STREAMER,
    },
    egress: null,
    recordingConfigured: false,
  });
});

Deno.test("readParticipant reads a guardian's viewer identity, device suffix or not", () => {
  for (const identity of [`guardian:${GUARDIAN}`, `guardian:${GUARDIAN}:a1b2c3`]) {
    assert.deepEqual(readParticipant({ sid: "PA_2", identity }), {
      sid: "PA_2",
      identity,
      kind: "guardian",
      guardianId: GUARDIAN,
    });
  }
});

Deno.test("readParticipant gives no participant for recorders, strangers or missing fields", () => {
  for (
    const participant of [
      undefined,
      { sid: "PA_3" },
      { identity: `streamer:${STREAMER}` },
      { sid: "PA_4", identity: "EG_abcdef", kind: "EGRESS" },
      { sid: "PA_5", identity: "streamer:not-a-uuid" },
      { sid: "PA_6", identity: `guardian:${GUARDIAN}:with spaces` },
    ]
  ) {
    assert.equal(readParticipant(participant), null, JSON.stringify(participant));
  }
});

Deno.test("readEvent reads the same input whatever the event's name", () => {
  const participant = { sid: "PA_7", identity: `guardian:${GUARDIAN}` };
  const inputs = ["participant_joined", "participant_left", "participant_connection_aborted"]
    .map((event) => readEvent({ id: "EV_2", event, participant }));
  assert.deepEqual(inputs[1], inputs[0]);
  assert.deepEqual(inputs[2], inputs[0]);
});

Deno.test("readEvent reads an egress report with ISO times and the object path in the bucket", () => {
  const prefix = `recordings/${STREAMER}/${SESSION}`;
  const input = readEvent({
    id: "EV_3",
    event: "egress_ended",
    egressInfo: {
      egressId: "EG_1",
      roomName: `session-${SESSION}`,
      status: "EGRESS_COMPLETE",
      startedAt: "1795000000000000000",
      endedAt: "1795000012000000000",
      fileResults: [{
        location: `https://storage.googleapis.com/recordings-bucket/${prefix}/1.mp4`,
        size: "1048576",
        duration: "12000000000",
      }],
    },
  }, { recording: RECORDING });
  assert.deepEqual(input, {
    participant: null,
    egress: {
      egressId: "EG_1",
      status: "ready",
      truncated: false,
      startedAt: "2026-11-18T11:06:40.000Z",
      endedAt: "2026-11-18T11:06:52.000Z",
      error: null,
      objectPath: `${prefix}/1.mp4`,
      sizeBytes: 1048576,
      durationSeconds: 12,
    },
    recordingConfigured: true,
  });
});

Deno.test("readEvent reads a failed auto egress without an id, with its reason", () => {
  const input = readEvent({
    id: "EV_4",
    event: "egress_ended",
    egressInfo: {
      roomName: `session-${SESSION}`,
      status: "EGRESS_FAILED",
      error: "no response from servers",
    },
  });
  assert.equal(input.egress?.egressId, "");
  assert.equal(input.egress?.status, "failed");
  assert.equal(input.egress?.error, "no response from servers");
});

Deno.test("roomOf takes the room, or the egress info's room, or none", () => {
  assert.equal(roomOf({ room: { name: "session-a" } }), "session-a");
  assert.equal(roomOf({ egressInfo: { roomName: "session-b" } }), "session-b");
  assert.equal(roomOf({ id: "EV_5", event: "something_new" }), null);
});

Deno.test("eventTime is LiveKit's createdAt in seconds, or the fallback when it has none", () => {
  const fallback = new Date("2026-12-01T00:00:00Z");
  assert.deepEqual(
    eventTime({ createdAt: "1795000000" }, fallback),
    new Date("2026-11-18T11:06:40Z"),
  );
  assert.deepEqual(eventTime({}, fallback), fallback);
  assert.deepEqual(eventTime({ createdAt: "0" }, fallback), fallback);
});
