/**
 * What the browser tier's live tests share: the local functions on a fresh database beside the
 * real `livekit-server` of `dev/build_livekit.sh` (its webhooks posted to the functions), and a
 * streamer publishing a moving 1280×720 canvas and a tone from a Chromium page with
 * livekit-client, as the headset would, through a grant from `start-session`.
 *
 * Not a test file: `live_browser.ts` and `watch_safety_browser.ts` import it.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import type { Browser, Page } from "playwright-core";
import { findMediaBinaries, type Found } from "../../dev/livekit_binaries.ts";
import { type LiveKitServer, startLiveKitServer } from "../../dev/livekit_server.ts";
import { freePort } from "../../dev/service_process.ts";
import { startServer, testSecret, type TestServer } from "../support/stack.ts";

// The callbacks given to `page.evaluate` run in Chromium (see `browser.ts`).
// deno-lint-ignore no-explicit-any
type PageGlobal = any;
declare const document: PageGlobal;
declare const globalThis: PageGlobal;

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The real livekit-server binary, when `dev/build_livekit.sh` built it. */
export async function findLiveKitServer(): Promise<Found | undefined> {
  return (await findMediaBinaries({ build: false, log: () => {} })).livekitServer;
}

/** The functions and the real LiveKit server they use. */
export interface LiveStack {
  server: TestServer;
  livekit: LiveKitServer;
  /** The key and secret the functions and the server share (for RoomService calls). */
  apiKey: string;
  apiSecret: string;
  stop(): Promise<void>;
}

/** Starts the functions on a fresh (seeded) database and livekit-server posting webhooks to them. */
export async function startLiveStack(binary: Found): Promise<LiveStack> {
  const apiKey = "viewer-live-test";
  const apiSecret = testSecret();
  const livekitPort = freePort();
  const workDir = await Deno.makeTempDir({ prefix: "viewer-live-" });
  const server = await startServer({
    env: {
      LIVEKIT_URL: `ws://127.0.0.1:${livekitPort}`,
      LIVEKIT_API_KEY: apiKey,
      LIVEKIT_API_SECRET: apiSecret,
    },
  });
  const livekit = await startLiveKitServer({
    binary: binary.path,
    apiKey,
    apiSecret,
    port: livekitPort,
    webhookUrl: `${server.url}/functions/v1/livekit-webhook`,
    workDir,
  }).catch(async (error) => {
    await server.stop();
    throw error;
  });
  return {
    server,
    livekit,
    apiKey,
    apiSecret,
    async stop() {
      await livekit.stop().catch(() => {});
      await server.stop();
      await Deno.remove(workDir, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * The streamer's page: `publish` sends a moving 1280×720 canvas and a 440 Hz tone to the room;
 * `join` only connects (a client that bypasses the viewer page, holding a grant), and keeps
 * `joinState`: connecting, connected, then disconnected or failed.
 */
const PUBLISHER = `
import { LocalAudioTrack, LocalVideoTrack, Room, Track } from "livekit-client";
globalThis.publish = async (url, token) => {
  const canvas = document.createElement("canvas");
  canvas.width = 1280;
  canvas.height = 720;
  document.body.append(canvas);
  const context = canvas.getContext("2d");
  let frame = 0;
  setInterval(() => {
    context.fillStyle = "hsl(" + (frame * 5) % 360 + " 70% 45%)";
    context.fillRect(0, 0, 1280, 720);
    context.fillStyle = "#fff";
    context.font = "160px sans-serif";
    context.fillText(String(frame++), 80, 420);
  }, 33);
  const audio = new AudioContext();
  const tone = audio.createOscillator();
  const destination = audio.createMediaStreamDestination();
  tone.connect(destination);
  tone.start();
  const room = new Room();
  await room.connect(url, token);
  await room.localParticipant.publishTrack(
    new LocalVideoTrack(canvas.captureStream(30).getVideoTracks()[0]),
    {
      source: Track.Source.Camera,
      simulcast: false,
      videoEncoding: { maxBitrate: 3000000, maxFramerate: 30 },
    },
  );
  await room.localParticipant.publishTrack(
    new LocalAudioTrack(destination.stream.getAudioTracks()[0]),
    { source: Track.Source.Microphone },
  );
  globalThis.room = room;
};
globalThis.join = async (url, token) => {
  const room = new Room();
  globalThis.joinState = "connecting";
  room.on("connected", () => globalThis.joinState = "connected");
  room.on("disconnected", () => globalThis.joinState = "disconnected");
  try {
    await room.connect(url, token);
  } catch {
    globalThis.joinState = "failed";
  }
};`;

async function publisherScript(): Promise<string> {
  const result = await esbuild.build({
    stdin: { contents: PUBLISHER, resolveDir: REPO_ROOT, loader: "js" },
    bundle: true,
    format: "esm",
    minify: true,
    write: false,
    logLevel: "warning",
  });
  await esbuild.stop();
  return result.outputFiles[0].text;
}

/** A new Chromium page with livekit-client and the `publish` and `join` functions above. */
export async function openClientPage(browser: Browser): Promise<Page> {
  const page = await browser.newPage();
  await page.setContent(
    `<!doctype html><body><script type="module">${
      (await publisherScript()).replaceAll("</script", "<\\/script")
    }</script></body>`,
  );
  await page.waitForFunction(() => typeof globalThis.join === "function");
  return page;
}

/**
 * Starts a session as `streamerToken`'s streamer (not recorded: no egress runs here) and
 * publishes into it from a new Chromium page. Returns the session and the streamer's page.
 */
export async function startPublishing(
  options: { stack: LiveStack; browser: Browser; streamerToken: string; title: string },
): Promise<{ session: { id: string }; roomName: string; page: Page }> {
  const started = await fetch(`${options.stack.server.url}/functions/v1/start-session`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${options.streamerToken}`,
      "content-type": "application/json",
    },
    body: JSON.stringify({ title: options.title, record: false }),
    signal: AbortSignal.timeout(30_000),
  });
  assert.equal(started.status, 201, await started.clone().text());
  const { session, livekit: grant } = await started.json();
  const page = await openClientPage(options.browser);
  // Bounded: `page.evaluate` itself waits as long as the promise does.
  const publishing = page.evaluate(
    ([url, token]: string[]) => globalThis.publish(url, token),
    [grant.url, grant.token],
  );
  publishing.catch(() => {}); // A late failure after the timeout is already reported.
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      publishing,
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error("The streamer's page did not publish within 30 s")),
          30_000,
        );
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
  return { session, roomName: grant.roomName, page };
}

/** Waits (bounded) until the page's `<video>` has decoded more than 10 new frames. */
export async function waitForFramesToAdvance(page: Page, timeout = 30_000): Promise<void> {
  await page.locator("video").waitFor({ timeout });
  const frames = await page.evaluate(() =>
    document.querySelector("video")?.getVideoPlaybackQuality().totalVideoFrames ?? 0
  );
  await page.waitForFunction(
    (before: number) => {
      const video = document.querySelector("video");
      return video !== null && video.getVideoPlaybackQuality().totalVideoFrames > before + 10;
    },
    frames,
    { timeout },
  );
}
