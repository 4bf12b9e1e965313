/**
 * How `shared/livekit.ts` reads LiveKit's answers, against the embedded stand-in (whose answers
 * the contract suite holds to the real server's): a 4xx is permanent (our error, a logged
 * 500), only what a retry may cure is `503 livekit_unavailable`; and the egress encoding
 * setting reaches the room's auto egress.
 */
import assert from "node:assert/strict";
import { EgressClient, EgressStatus } from "livekit-server-sdk";
import { startLiveKitStandIn } from "../../dev/livekit_standin.ts";
import { HttpError } from "../../shared/kernel/errors.ts";
import {
  createSessionRoom,
  listRoomNames,
  type LiveKitSettings,
  recordingTargetOf,
  startStreamerEgress,
} from "../../shared/livekit.ts";

function settingsOf(standIn: { httpUrl: string; url: string; apiKey: string; apiSecret: string }) {
  return {
    url: standIn.url,
    httpUrl: standIn.httpUrl,
    apiKey: standIn.apiKey,
    apiSecret: standIn.apiSecret,
    timeoutSeconds: 2,
  } satisfies LiveKitSettings;
}

const storage = { bucket: "recordings", credentials: { client_email: "x@example.test" } };

Deno.test("a LiveKit 401 (wrong secret) is a permanent error, not 503 livekit_unavailable", async () => {
  const standIn = startLiveKitStandIn();
  try {
    const wrong = { ...settingsOf(standIn), apiSecret: "y".repeat(40) };
    const error = await listRoomNames(wrong).then(() => undefined, (error) => error);
    assert.ok(error instanceof Error);
    assert.ok(!(error instanceof HttpError), "a refusal must not become a 503");
    assert.match(error.message, /refused the call with 401/);
  } finally {
    await standIn.stop();
  }
});

Deno.test("a LiveKit 503 is 503 livekit_unavailable", async () => {
  const standIn = startLiveKitStandIn();
  standIn.mode = "fail";
  try {
    const error = await listRoomNames(settingsOf(standIn)).then(() => undefined, (error) => error);
    assert.ok(error instanceof HttpError);
    assert.equal(error.status, 503);
    assert.equal(error.code, "livekit_unavailable");
  } finally {
    await standIn.stop();
  }
});

Deno.test("EGRESS_ENCODING h264-720p30-opus sends advanced H.264 + Opus options; the default the preset", async () => {
  const standIn = startLiveKitStandIn();
  try {
    const sessionId = crypto.randomUUID();
    await createSessionRoom(settingsOf(standIn), {
      sessionId,
      streamerId: crypto.randomUUID(),
      recording: recordingTargetOf(storage, { egressEncoding: "h264-720p30-opus" }),
    });
    const advanced = JSON.stringify(standIn.rooms.get(`session-${sessionId}`)!.egress);
    assert.match(advanced, /"audioCodec":"OPUS"/);
    assert.match(advanced, /"videoCodec":"H264_MAIN"/);
    assert.match(advanced, /"height":720/);

    const other = crypto.randomUUID();
    await createSessionRoom(settingsOf(standIn), {
      sessionId: other,
      streamerId: crypto.randomUUID(),
      recording: recordingTargetOf(storage),
    });
    assert.match(JSON.stringify(standIn.rooms.get(`session-${other}`)!.egress), /H264_1080P_30/);
  } finally {
    await standIn.stop();
  }
});

Deno.test("startStreamerEgress starts no second egress while one records the streamer", async () => {
  const standIn = startLiveKitStandIn();
  try {
    const settings = settingsOf(standIn);
    const sessionId = crypto.randomUUID();
    const streamerId = crypto.randomUUID();
    const recording = recordingTargetOf(storage)!;
    await createSessionRoom(settings, { sessionId, streamerId });
    const starts = () =>
      standIn.calls.filter((call) => call.method === "StartParticipantEgress").length;

    const first = await startStreamerEgress(settings, { sessionId, streamerId, recording });
    // A redelivered webhook, or the event of the streamer's second track.
    const again = await startStreamerEgress(settings, { sessionId, streamerId, recording });
    assert.equal(again, first);
    assert.equal(starts(), 1, "StartParticipantEgress is not replayed");

    // Another participant's egress in the room is not the streamer's.
    standIn.addEgress({
      egressId: "EG_someoneelse",
      roomName: `session-${sessionId}`,
      status: EgressStatus.EGRESS_ACTIVE,
    });
    const egress = new EgressClient(standIn.httpUrl, standIn.apiKey, standIn.apiSecret);
    await egress.stopEgress(first);
    const next = await startStreamerEgress(settings, { sessionId, streamerId, recording });
    assert.notEqual(next, first, "an ending egress records nothing more: a new one starts");
    assert.equal(starts(), 2);
  } finally {
    await standIn.stop();
  }
});
