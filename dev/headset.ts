/**
 * `deno task headset`: a stand-in for the Quest headset. It starts a session as the seeded
 * streamer, joins the room with the grant `start-session` returned and publishes a synthetic
 * camera (a moving 1280x720 30 fps test pattern) and microphone (a 440 Hz tone) with
 * `@livekit/rtc-node`, which Deno's Node-API support loads. Ctrl-C (or `--seconds N`) leaves
 * and ends the session. Against the embedded stand-in (no media there) it joins through the
 * stand-in's join endpoint instead.
 *
 * Flags: `--url URL` (the local server, default http://127.0.0.1:54321), `--token JWT` (default:
 * one signed for the seeded streamer with `.data/dev-secrets.json`), `--seconds N`,
 * `--data-dir DIR`.
 */
import { SignJWT } from "jose";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { STREAMER_A } from "./seed_ids.ts";
import { REPO_ROOT } from "./stack.ts";

/** The grant object of the contract. */
export interface Grant {
  url: string;
  token: string;
  roomName: string;
  identity: string;
}

/** A publishing headset. */
export interface Publisher {
  /** "rtc" (real WebRTC media) or "stand-in" (the stand-in's join endpoint, no media). */
  kind: "rtc" | "stand-in";
  /** Leaves the room. */
  leave(): Promise<void>;
}

const WIDTH = 1280;
const HEIGHT = 720;
const FPS = 30;
const SAMPLE_RATE = 48_000;

/** Joins with `grant` and publishes the test pattern and tone until `leave`. */
export async function publish(grant: Grant): Promise<Publisher> {
  const httpUrl = grant.url.replace(/^ws/, "http").replace(/\/+$/, "");
  const probe = await fetch(`${httpUrl}/_standin/join`, {
    method: "POST",
    headers: { authorization: `Bearer ${grant.token}` },
  }).catch(() => undefined);
  await probe?.body?.cancel();
  if (probe?.ok) {
    return {
      kind: "stand-in",
      async leave() {
        const response = await fetch(`${httpUrl}/_standin/leave`, {
          method: "POST",
          headers: { authorization: `Bearer ${grant.token}` },
        });
        await response.body?.cancel();
      },
    };
  }
  return await publishRtc(grant);
}

async function publishRtc(grant: Grant): Promise<Publisher> {
  // Imported here: the native module is large, and the stand-in path never needs it.
  const rtc = await import("@livekit/rtc-node");
  const room = new rtc.Room();
  await room.connect(grant.url, grant.token, { autoSubscribe: false, dynacast: false });
  const video = new rtc.VideoSource(WIDTH, HEIGHT);
  const audio = new rtc.AudioSource(SAMPLE_RATE, 1);
  const camera = new rtc.TrackPublishOptions();
  camera.source = rtc.TrackSource.SOURCE_CAMERA;
  // One 1280x720 layer, as the Unity publisher sends (LiveKitRoomPublisher.cs: no simulcast), so
  // viewers and egress get what a headset would send.
  camera.simulcast = false;
  const microphone = new rtc.TrackPublishOptions();
  microphone.source = rtc.TrackSource.SOURCE_MICROPHONE;
  await room.localParticipant!.publishTrack(
    rtc.LocalVideoTrack.createVideoTrack("camera", video),
    camera,
  );
  await room.localParticipant!.publishTrack(
    rtc.LocalAudioTrack.createAudioTrack("microphone", audio),
    microphone,
  );

  let running = true;
  const frame = new Uint8Array(WIDTH * HEIGHT * 3 / 2);
  const samplesPerFrame = SAMPLE_RATE / FPS;
  const loop = (async () => {
    for (let n = 0; running; n++) {
      const started = performance.now();
      testPattern(frame, n);
      video.captureFrame(new rtc.VideoFrame(frame, WIDTH, HEIGHT, rtc.VideoBufferType.I420));
      const samples = new Int16Array(samplesPerFrame);
      for (let i = 0; i < samplesPerFrame; i++) {
        samples[i] = Math.round(
          6000 * Math.sin(2 * Math.PI * 440 * (n * samplesPerFrame + i) / SAMPLE_RATE),
        );
      }
      await audio.captureFrame(new rtc.AudioFrame(samples, SAMPLE_RATE, 1, samplesPerFrame));
      const spent = performance.now() - started;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, 1000 / FPS - spent)));
    }
  })();
  return {
    kind: "rtc",
    async leave() {
      running = false;
      await loop;
      await room.disconnect();
    },
  };
}

/** A viewer in a room, for the end-to-end tier. */
export interface Viewer {
  /**
   * Tries to publish a camera track; `published`, or `refused` when LiveKit refuses or does not
   * answer within `timeoutMs` (a viewer grant's publish is never answered: the SDK times out).
   */
  tryPublish(timeoutMs: number): Promise<"published" | "refused">;
  leave(): Promise<void>;
}

/**
 * Joins with a viewer `grant` (rtc-node). It subscribes to nothing: decoding would only load
 * the machine, and LiveKit counts it as a participant all the same.
 */
export async function watch(grant: Grant): Promise<Viewer> {
  const rtc = await import("@livekit/rtc-node");
  const room = new rtc.Room();
  await room.connect(grant.url, grant.token, { autoSubscribe: false, dynacast: false });
  return {
    async tryPublish(timeoutMs) {
      const source = new rtc.VideoSource(320, 180);
      const options = new rtc.TrackPublishOptions();
      options.source = rtc.TrackSource.SOURCE_CAMERA;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<"refused">((resolve) => {
        timer = setTimeout(() => resolve("refused"), timeoutMs);
      });
      const attempt = room.localParticipant!.publishTrack(
        rtc.LocalVideoTrack.createVideoTrack("sneaky", source),
        options,
      ).then(() => "published" as const, () => "refused" as const);
      try {
        return await Promise.race([attempt, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    async leave() {
      await room.disconnect();
    },
  };
}

/** Vertical bars that move one step per frame, over a grey chroma (I420). */
function testPattern(frame: Uint8Array, n: number): void {
  const lumaSize = WIDTH * HEIGHT;
  for (let y = 0; y < HEIGHT; y++) {
    const row = y * WIDTH;
    for (let x = 0; x < WIDTH; x++) frame[row + x] = (((x + n * 8) >> 6) & 1) ? 235 : 16 + (y >> 3);
  }
  frame.fill(128, lumaSize);
}

/** A 24-hour token of the seeded streamer, signed with the local server's secret. */
async function streamerToken(dataDir: string, url: string): Promise<string> {
  const secrets = JSON.parse(await Deno.readTextFile(join(dataDir, "dev-secrets.json")));
  return await new SignJWT({ role: "authenticated", email: "streamer@example.test" })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(STREAMER_A)
    .setAudience("authenticated")
    .setIssuer(`${url}/auth/v1`)
    .setIssuedAt()
    .setExpirationTime("24h")
    .sign(new TextEncoder().encode(secrets.SUPABASE_JWT_SECRET));
}

async function call(url: string, token: string, name: string, body: unknown) {
  const response = await fetch(`${url}/functions/v1/${name}`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const json = await response.json();
  if (!response.ok) {
    throw new Error(`${name} answered ${response.status}: ${json?.error?.message ?? "no message"}`);
  }
  return json;
}

async function main(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      url: { type: "string", default: "http://127.0.0.1:54321" },
      token: { type: "string" },
      seconds: { type: "string" },
      "data-dir": { type: "string", default: join(REPO_ROOT, ".data") },
    },
  });
  const url = values.url!.replace(/\/+$/, "");
  const token = values.token ?? await streamerToken(values["data-dir"]!, url);
  const { session, livekit } = await call(url, token, "start-session", {
    title: "Headset stand-in",
  });
  console.log(`Session ${session.id} started; joining ${livekit.roomName} as ${livekit.identity}`);
  const publisher = await publish(livekit);
  console.log(
    publisher.kind === "rtc"
      ? "Publishing a 1280x720 30 fps test pattern and a 440 Hz tone. Ctrl-C ends the session."
      : "Joined the LiveKit stand-in (no media). Ctrl-C ends the session.",
  );
  const done = Promise.withResolvers<void>();
  Deno.addSignalListener("SIGINT", () => done.resolve());
  Deno.addSignalListener("SIGTERM", () => done.resolve());
  if (values.seconds) setTimeout(() => done.resolve(), Number(values.seconds) * 1000);
  await done.promise;
  await publisher.leave();
  const ended = await call(url, token, "end-session", { sessionId: session.id });
  console.log(`Session ${session.id} ${ended.session.status}.`);
  // rtc-node's native handles would keep the process alive.
  Deno.exit(0);
}

if (import.meta.main) {
  main(Deno.args).catch((error) => {
    console.error(`Cannot run the headset: ${error instanceof Error ? error.message : error}`);
    Deno.exit(1);
  });
}
