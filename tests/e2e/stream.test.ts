/**
 * The main job end to end on the real LiveKit stack: the local server (a fresh database), the
 * real livekit-server posting signed webhooks to `livekit-webhook`, the real egress service
 * (with Redis) recording to the local bucket, and the rtc-node headset publishing a synthetic
 * camera and tone with the grant `start-session` returned. Needs the binaries of
 * `dev/build_livekit.sh`; without them it is skipped, unless `LIVEKIT_E2E=required` (CI).
 */
import assert from "node:assert/strict";
import { publish } from "../../dev/headset.ts";
import { findMediaBinaries } from "../../dev/livekit_binaries.ts";
import { startLocalBucket } from "../../dev/local_bucket.ts";
import { startMediaStack } from "../../dev/media_stack.ts";
import { freePort } from "../../dev/service_process.ts";
import { STREAMER_A } from "../../dev/seed_ids.ts";
import { apiClient } from "../support/api.ts";
import { startServer, testSecret } from "../support/stack.ts";
import { serviceToken, userToken } from "../support/tokens.ts";

const binaries = await findMediaBinaries({ build: false, log: () => {} });
const available = Boolean(binaries.livekitServer && binaries.egress && binaries.redis);
const required = Deno.env.get("LIVEKIT_E2E") === "required";

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 30_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

Deno.test({
  name:
    "a headset streams on the real stack: live by real webhooks, recorded by real egress, ended",
  ignore: !available && !required,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    if (!available) {
      throw new Error(`The real stack is required here: ${JSON.stringify(binaries.missing)}`);
    }
    const apiKey = "APIe2e";
    const apiSecret = testSecret();
    const port = freePort();
    const workDir = await Deno.makeTempDir({ prefix: "vrstream-e2e-" });
    const bucket = await startLocalBucket();
    const media = await startMediaStack({
      apiKey,
      apiSecret,
      port: 0,
      webhookUrl: `http://127.0.0.1:${port}/functions/v1/livekit-webhook`,
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
    try {
      assert.equal(media.kind, "livekit-server");
      assert.ok(media.egress);
      const api = apiClient(server.url);
      const secret = server.env.SUPABASE_JWT_SECRET;
      const streamer = await userToken(secret, STREAMER_A);
      const service = await serviceToken(secret);

      const started = await api.post("start-session", { title: "E2E" }, { token: streamer });
      assert.equal(started.status, 201, JSON.stringify(started.body));
      const sessionId = started.body.session.id;
      const headset = await publish(started.body.livekit);
      assert.equal(headset.kind, "rtc");

      // Live through the real server's signed room_started / participant_joined / track_published.
      await until("live", async () => {
        const { body } = await api.get(`streams?sessionId=${sessionId}`, { token: streamer });
        return body.session.status === "live" ? true : undefined;
      });
      await new Promise((resolve) => setTimeout(resolve, 6000)); // a 5-10 s recording
      await headset.leave();

      const ended = await api.post("end-session", { sessionId }, { token: streamer });
      assert.equal(ended.status, 200);
      assert.equal(ended.body.session.status, "ended");

      const recording = await until("the recording", async () => {
        const { body } = await api.get(`streams?sessionId=${sessionId}`, { token: streamer });
        const found = body.recordings.find((r: { status: string }) =>
          r.status === "ready" || r.status === "failed"
        );
        return found;
      }, 60_000);
      assert.equal(recording.status, "ready", JSON.stringify(recording));
      assert.ok(recording.durationSeconds > 3, JSON.stringify(recording));

      const signed = await api.get(`recording-url?recordingId=${recording.id}`, {
        token: streamer,
      });
      assert.equal(signed.status, 200);
      const mp4 = new Uint8Array(await (await fetch(signed.body.url)).arrayBuffer());
      assert.equal(mp4.byteLength, recording.sizeBytes);
      const boxes = String.fromCharCode(...mp4.subarray(0, 16)) +
        String.fromCharCode(...mp4.subarray(Math.max(0, mp4.byteLength - 65536)));
      assert.ok(boxes.includes("ftyp"), "an MP4");
      assert.ok(boxes.includes("avc1"), "H.264 video (avc1)");
      assert.ok(boxes.includes("mvhd"), "a movie header, so the file is finished");

      // Exactly one "stream started" email per opted-in guardian, drained by the service.
      const drained = await api.post("send-notification", {}, { token: service });
      assert.equal(drained.status, 200);
      const emails = await server.sql<{ kind: string; to_address: string }[]>`
        select kind, to_address from public.captured_emails`.catch(() => []);
      const startedEmails = emails.filter((email) => email.kind === "stream_started");
      assert.equal(
        new Set(startedEmails.map((e) => e.to_address)).size,
        startedEmails.length,
        "no guardian gets two stream-started emails",
      );
    } finally {
      await server.stop();
      await media.stop();
      await bucket.stop();
      await Deno.remove(workDir, { recursive: true }).catch(() => {});
    }
  },
});
