/**
 * The two LiveKit targets of the contract suite: the real `livekit-server` (the cached build
 * of `dev/build_livekit.sh`, or one on `PATH`) and the embedded stand-in of `dev/`. Each
 * starts with a fresh key pair and posts its webhooks to a receiver of the test's own.
 * Without a real server the real target is skipped, unless `LIVEKIT_CONTRACT_REAL=required`
 * (CI), which makes its absence a failure.
 */
import { WebhookEvent, WebhookReceiver } from "livekit-server-sdk";
import { findMediaBinaries } from "../../dev/livekit_binaries.ts";
import { startEgress } from "../../dev/egress.ts";
import { startLiveKitServer } from "../../dev/livekit_server.ts";
import { startLocalBucket } from "../../dev/local_bucket.ts";
import { startRedis } from "../../dev/redis.ts";
import { startLiveKitStandIn } from "../../dev/livekit_standin.ts";
import type { StandInEgress } from "../../dev/standin_egress.ts";

/** A webhook as received: the raw body, its header, and the verified event. */
export interface Delivery {
  body: string;
  authorization: string | null;
  event: WebhookEvent;
}

/** A running target with its webhook receiver. */
export interface Target {
  httpUrl: string;
  wsUrl: string;
  apiKey: string;
  apiSecret: string;
  /** Whether an egress service takes egress requests (the real server needs one). */
  egress: boolean;
  /** Verified webhooks, in arrival order. */
  deliveries: Delivery[];
  /** Waits (up to 15 s) for a webhook matching `test`. */
  webhook(test: (event: WebhookEvent) => boolean): Promise<Delivery>;
  stop(): Promise<void>;
}

export const REAL_REQUIRED = Deno.env.get("LIVEKIT_CONTRACT_REAL") === "required";

const binaries = await findMediaBinaries({ build: false, log: () => {} });
/** The real server's binary, when this machine has one (never built here). */
export const realBinary = binaries.livekitServer?.path;

/** Starts a webhook receiver that verifies each delivery as `livekit-webhook` does. */
function startReceiver(apiKey: string, apiSecret: string) {
  const receiver = new WebhookReceiver(apiKey, apiSecret);
  const deliveries: Delivery[] = [];
  const waiting = new Set<() => void>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    const body = await request.text();
    const authorization = request.headers.get("authorization");
    try {
      const event = await receiver.receive(body, authorization ?? undefined);
      deliveries.push({ body, authorization, event });
      for (const wake of waiting) wake();
      return new Response("ok");
    } catch {
      return new Response("bad signature", { status: 401 });
    }
  });
  async function webhook(test: (event: WebhookEvent) => boolean): Promise<Delivery> {
    const deadline = Date.now() + 15_000;
    while (true) {
      const found = deliveries.find((delivery) => test(delivery.event));
      if (found) return found;
      if (Date.now() > deadline) {
        throw new Error(
          `No matching webhook within 15 s; got: ${
            deliveries.map((d) => d.event.event).join(", ")
          }`,
        );
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          waiting.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(wake, 250);
        waiting.add(wake);
      });
    }
  }
  return {
    url: `http://127.0.0.1:${server.addr.port}/`,
    deliveries,
    webhook,
    stop: () => server.shutdown(),
  };
}

function freshKeys() {
  return {
    apiKey: `APIc${crypto.randomUUID().slice(0, 8)}`,
    apiSecret: `${crypto.randomUUID()}${crypto.randomUUID()}`.replaceAll("-", ""),
  };
}

/**
 * Starts the real livekit-server with a fresh key pair and a receiver, and (when this machine
 * has them) Redis and the real egress service uploading to a local bucket, as the egress API
 * needs them.
 */
export async function startReal(): Promise<Target> {
  const { apiKey, apiSecret } = freshKeys();
  const receiver = startReceiver(apiKey, apiSecret);
  const workDir = await Deno.makeTempDir({ prefix: "livekit-contract-" });
  const stops: (() => Promise<void>)[] = [receiver.stop];
  async function stop() {
    for (const step of stops.reverse()) await step().catch(() => {});
    await Deno.remove(workDir, { recursive: true }).catch(() => {});
  }
  try {
    const redis = binaries.redis && binaries.egress
      ? await startRedis(binaries.redis.path, workDir)
      : undefined;
    if (redis) stops.push(redis.stop);
    const server = await startLiveKitServer({
      binary: realBinary!,
      apiKey,
      apiSecret,
      webhookUrl: receiver.url,
      redisAddress: redis?.address,
      workDir,
    });
    stops.push(server.stop);
    let egress = false;
    if (redis) {
      egress = true;
      const bucket = await startLocalBucket();
      stops.push(bucket.stop);
      const service = await startEgress({
        binary: binaries.egress!.path,
        apiKey,
        apiSecret,
        livekitUrl: server.url,
        redisAddress: redis.address,
        bucket: bucket.double.bucket,
        credentialsJson: bucket.credentialsJson,
        storageEmulatorHost: bucket.emulatorHost,
        workDir,
      });
      stops.push(service.stop);
    }
    return {
      httpUrl: server.httpUrl,
      wsUrl: server.url,
      apiKey,
      apiSecret,
      egress,
      deliveries: receiver.deliveries,
      webhook: receiver.webhook,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Starts the stand-in with a fresh key pair and a receiver. */
export function startStandIn(
  options: { egressFailureDelayMs?: number; egress?: StandInEgress } = {},
): Promise<Target> {
  const { apiKey, apiSecret } = freshKeys();
  const receiver = startReceiver(apiKey, apiSecret);
  const standIn = startLiveKitStandIn({
    apiKey,
    apiSecret,
    webhookUrl: receiver.url,
    egressFailureDelayMs: options.egressFailureDelayMs,
    egress: options.egress,
  });
  return Promise.resolve({
    httpUrl: standIn.httpUrl,
    wsUrl: standIn.url,
    apiKey,
    apiSecret,
    egress: true,
    deliveries: receiver.deliveries,
    webhook: receiver.webhook,
    async stop() {
      await standIn.stop();
      await receiver.stop();
    },
  });
}
