/**
 * The stand-in's egress (`dev/standin_egress.ts` in `dev/livekit_standin.ts`): a publisher in a
 * room with auto egress is recorded into the local bucket as a real MP4 (H.264), reported by
 * signed egress webhooks as LiveKit reports them; the recorder joins as an EGRESS participant;
 * a rejoin (a new connection) is recorded by an auto egress of its own, as livekit-server does. Skipped where neither GStreamer nor ffmpeg can make
 * the file, unless `LIVEKIT_CONTRACT_REAL=required` (CI), which makes that a failure.
 */
import assert from "node:assert/strict";
import { AccessToken, EgressStatus } from "livekit-server-sdk";
import { startLocalBucket } from "../../dev/local_bucket.ts";
import { createStandInEgress, findMp4Encoder } from "../../dev/standin_egress.ts";
import { createSessionRoom, recordingTargetOf } from "../../shared/livekit.ts";
import { REAL_REQUIRED, startStandIn } from "./targets.ts";

const encoder = await findMp4Encoder();

async function joinAs(httpUrl: string, keys: { apiKey: string; apiSecret: string }, room: string) {
  const token = new AccessToken(keys.apiKey, keys.apiSecret, { identity: "streamer:someone" });
  token.addGrant({ room, roomJoin: true, canPublish: true });
  const authorization = `Bearer ${await token.toJwt()}`;
  async function call(path: string) {
    const response = await fetch(`${httpUrl}${path}`, {
      method: "POST",
      headers: { authorization },
    });
    await response.body?.cancel();
    assert.equal(response.status, 200, path);
  }
  await call("/_standin/join");
  return { leave: () => call("/_standin/leave"), rejoin: () => call("/_standin/join") };
}

Deno.test({
  name: "the stand-in's egress records a publisher into the bucket as a real H.264 MP4",
  ignore: encoder === undefined && !REAL_REQUIRED,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    if (!encoder) throw new Error("Neither gst-launch-1.0 nor ffmpeg can make the MP4 here");
    const bucket = await startLocalBucket();
    const egress = createStandInEgress({
      encoder: encoder!,
      store(name, mp4) {
        bucket.double.put(name, new Uint8Array(mp4), "video/mp4");
        return Promise.resolve(`${bucket.double.url}/${bucket.double.bucket}/${name}`);
      },
      maxSeconds: 5,
    });
    const target = await startStandIn({ egress });
    try {
      const sessionId = crypto.randomUUID();
      const streamerId = crypto.randomUUID();
      const room = `session-${sessionId}`;
      await createSessionRoom({
        url: target.wsUrl,
        httpUrl: target.httpUrl,
        apiKey: target.apiKey,
        apiSecret: target.apiSecret,
        timeoutSeconds: 2,
      }, {
        sessionId,
        streamerId,
        recording: recordingTargetOf({ bucket: bucket.double.bucket, credentials: {} }, {
          egressEncoding: "h264-720p30-opus",
        }),
      });
      const publisher = await joinAs(target.httpUrl, target, room);
      const started = await target.webhook((e) => e.event === "egress_started");
      const raw = JSON.parse(started.body);
      assert.equal(raw.egressInfo.status, undefined, "STARTING is the zero value: omitted");
      const egressId = started.event.egressInfo!.egressId;
      await target.webhook((e) =>
        e.event === "egress_updated" && e.egressInfo?.status === EgressStatus.EGRESS_ACTIVE
      );
      const recorder = await target.webhook((e) =>
        e.event === "participant_joined" && e.participant?.identity === egressId
      );
      assert.equal(JSON.parse(recorder.body).participant.kind, "EGRESS");

      await new Promise((resolve) => setTimeout(resolve, 2000));
      await publisher.leave();
      const ended = await target.webhook((e) => e.event === "egress_ended");
      const info = ended.event.egressInfo!;
      assert.equal(info.status, EgressStatus.EGRESS_COMPLETE, info.error);
      assert.equal(info.egressId, egressId);
      const [file] = info.fileResults;
      assert.match(
        file.filename,
        new RegExp(`^recordings/${streamerId}/${sessionId}/\\d{8}T\\d{6}\\.mp4$`),
      );
      assert.ok(file.duration > 0n && file.size > 0n);
      const object = bucket.double.objects.get(file.filename);
      assert.ok(object, "the MP4 is in the bucket");
      assert.equal(BigInt(object.data.byteLength), file.size);
      const head = new TextDecoder("latin1").decode(object.data);
      assert.ok(
        head.includes("ftyp") && head.includes("avc1") && head.includes("mvhd"),
        "H.264 MP4",
      );

      // A rejoin is a new connection, whose first publish starts an auto egress of its own
      // (livekit-server's Room.RemoveParticipant forgets that the identity published).
      await publisher.rejoin();
      const again = await target.webhook((e) =>
        e.event === "egress_started" && e.egressInfo?.egressId !== egressId
      );
      assert.equal(again.event.egressInfo!.roomName, room);
      await new Promise((resolve) => setTimeout(resolve, 700));
      assert.equal(
        target.deliveries.filter((d) => d.event.event === "egress_started").length,
        2,
        "one auto egress per connection",
      );
      await publisher.leave();
    } finally {
      await target.stop();
      await bucket.stop();
    }
  },
});
