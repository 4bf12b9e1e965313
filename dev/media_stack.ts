/**
 * The media side of the local stack: LiveKit, its egress service and Redis, each real when
 * this machine can run it, and says which runs and why (the banner of `deno task dev`).
 *
 * - livekit-server: the cached build (`dev/build_livekit.sh`, built now when Go is installed)
 *   or one on `PATH`; else the embedded stand-in (`dev/livekit_standin.ts`), which answers the
 *   same API and posts signed webhooks for what happens in it.
 * - egress: the real service when its binary, Redis and GStreamer are present, uploading to
 *   the local bucket; with the stand-in, its own egress (`dev/standin_egress.ts`: a test-pattern
 *   MP4 made with GStreamer or ffmpeg, stored in the local bucket) when one of them is present;
 *   else none.
 *
 * See {@linkcode startMediaStack}.
 */
import { join } from "node:path";
import { type Egress, startEgress } from "./egress.ts";
import { findMediaBinaries } from "./livekit_binaries.ts";
import { type LiveKitServer, startLiveKitServer } from "./livekit_server.ts";
import { type LiveKitStandIn, startLiveKitStandIn } from "./livekit_standin.ts";
import { createStandInEgress, findMp4Encoder, type StandInEgress } from "./standin_egress.ts";
import type { LocalBucket } from "./local_bucket.ts";
import { type Redis, startRedis } from "./redis.ts";

/** Options of {@linkcode startMediaStack}. */
export interface MediaStackOptions {
  apiKey: string;
  apiSecret: string;
  /** Port of LiveKit's HTTP/WebSocket API; `0` picks one. */
  port: number;
  /** Where LiveKit posts webhooks. */
  webhookUrl: string;
  /** The bucket egress uploads to; without it there is no egress. */
  bucket?: LocalBucket;
  /** Folder for configs and logs. */
  workDir: string;
  /** Use the stand-in even when the real server could run. @default false */
  standIn?: boolean;
  /** Build missing binaries with Go. @default true */
  build?: boolean;
  log?: (line: string) => void;
}

/** The running media stack. */
export interface MediaStack {
  /** `LIVEKIT_URL` (`ws://127.0.0.1:PORT`). */
  url: string;
  httpUrl: string;
  kind: "livekit-server" | "stand-in";
  /** Whether real egress records. */
  egress: boolean;
  /** Lines for the banner: what runs and why. */
  describe: string[];
  server?: LiveKitServer;
  standIn?: LiveKitStandIn;
  stop(): Promise<void>;
}

/** Starts Redis, livekit-server and egress (or the stand-in), in that order. */
export async function startMediaStack(options: MediaStackOptions): Promise<MediaStack> {
  const log = options.log ?? console.log;
  const started: { stop(): Promise<void> }[] = [];
  const describe: string[] = [];
  async function stop() {
    for (const service of started.reverse()) await service.stop().catch(() => {});
  }
  try {
    const binaries = options.standIn
      ? { missing: { "livekit-server": "the stand-in was asked for" } as Record<string, string> }
      : await findMediaBinaries({ build: options.build, log });
    const livekitBinary = "livekitServer" in binaries ? binaries.livekitServer : undefined;
    if (!livekitBinary) {
      const egress = await standInEgressOf(options.bucket);
      const standIn = await startLiveKitStandIn({
        apiKey: options.apiKey,
        apiSecret: options.apiSecret,
        port: options.port,
        webhookUrl: options.webhookUrl,
        egress: typeof egress === "string" ? undefined : egress,
      });
      started.push(standIn);
      describe.push(
        `LiveKit: the embedded stand-in on ${standIn.url} (${
          binaries.missing["livekit-server"]
        }); it posts signed webhooks, and \`deno task headset\` joins it without media`,
        typeof egress === "string"
          ? `Egress: none (${egress}); auto egress fails after 21 s as LiveKit's does`
          : `Egress: the stand-in's, a test-pattern MP4 made with ${egress.describe} into the local bucket`,
      );
      return {
        url: standIn.url,
        httpUrl: standIn.httpUrl,
        kind: "stand-in",
        egress: typeof egress !== "string",
        describe,
        standIn,
        stop,
      };
    }

    let redis: Redis | undefined;
    const bin = binaries as Awaited<ReturnType<typeof findMediaBinaries>>;
    const egressReady = bin.egress && bin.redis && options.bucket;
    if (egressReady) {
      redis = await startRedis(bin.redis!.path, join(options.workDir, "redis"));
      started.push(redis);
    }
    const server = await startLiveKitServer({
      binary: livekitBinary.path,
      apiKey: options.apiKey,
      apiSecret: options.apiSecret,
      port: options.port,
      webhookUrl: options.webhookUrl,
      redisAddress: redis?.address,
      workDir: options.workDir,
    });
    started.push(server);
    describe.push(
      `LiveKit: livekit-server ${livekitBinary.path} (${livekitBinary.origin}) on ${server.url}, webhooks to ${options.webhookUrl}; log ${server.process.logFile}`,
    );

    let egress: Egress | undefined;
    if (egressReady) {
      egress = await startEgress({
        binary: bin.egress!.path,
        apiKey: options.apiKey,
        apiSecret: options.apiSecret,
        livekitUrl: server.url,
        redisAddress: redis!.address,
        bucket: options.bucket!.double.bucket,
        credentialsJson: options.bucket!.credentialsJson,
        storageEmulatorHost: options.bucket!.emulatorHost,
        workDir: options.workDir,
      });
      started.push(egress);
      describe.push(
        `Egress: ${bin.egress!.path} (${bin.egress!.origin}) with Redis ${
          redis!.address
        }, uploading to the local bucket; log ${egress.process.logFile}`,
      );
    } else {
      const why = !options.bucket
        ? "GCS_* is configured, so there is no local bucket for it"
        : Object.entries(bin.missing).map(([name, reason]) => `${name}: ${reason}`).join("; ");
      describe.push(`Egress: none (${why}); sessions are not recorded by LiveKit`);
    }
    return {
      url: server.url,
      httpUrl: server.httpUrl,
      kind: "livekit-server",
      egress: egress !== undefined,
      describe,
      server,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The stand-in's egress over the local bucket, or why there is none. */
async function standInEgressOf(bucket: LocalBucket | undefined): Promise<StandInEgress | string> {
  if (!bucket) return "GCS_* is configured, so there is no local bucket for it";
  const encoder = await findMp4Encoder();
  if (!encoder) {
    return "neither gst-launch-1.0 (gstreamer1.0-tools) nor ffmpeg is installed to make its MP4";
  }
  return createStandInEgress({
    encoder,
    store(objectName, mp4) {
      bucket.double.put(objectName, new Uint8Array(mp4), "video/mp4");
      return Promise.resolve(
        `${bucket.double.url}/${bucket.double.bucket}/${encodeURI(objectName)}`,
      );
    },
  });
}
