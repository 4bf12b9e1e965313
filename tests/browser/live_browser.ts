/**
 * The live view in Debian's Chromium against the real `livekit-server` (built by
 * `dev/build_livekit.sh`) and the local stack: a streamer publishes a synthetic 1280×720 camera
 * and a tone from a second Chromium page with livekit-client, as the headset would, through a
 * grant from `start-session`; a guardian opens the watch link. It also measures "watch link
 * opened → first video frame decoded" (the README's figure; notes in `viewer/BENCHMARK.md`).
 *
 * Without the livekit-server binary the test is skipped, unless `VIEWER_LIVE_REQUIRED=1` (CI).
 */
import assert from "node:assert/strict";
import { GUARDIAN_A_ROW, STREAMER_A } from "../../dev/seed_ids.ts";
import { createLinkSigner } from "../../shared/kernel/link.ts";
import { userToken } from "../support/tokens.ts";
import {
  assertAccessibleLayout,
  launchChromium,
  screenshot,
  VIEWPORTS,
  waitForStatus,
} from "./browser.ts";
import { findLiveKitServer, startLiveStack, startPublishing } from "./live_stack.ts";

// The callbacks given to `page.evaluate` run in Chromium (see `browser.ts`).
// deno-lint-ignore no-explicit-any
type PageGlobal = any;
declare const document: PageGlobal;
declare const performance: PageGlobal;
declare const globalThis: PageGlobal;
declare const MutationObserver: PageGlobal;

const livekitServer = await findLiveKitServer();
const required = Deno.env.get("VIEWER_LIVE_REQUIRED") === "1";

Deno.test({
  name: "a watch link shows the streamer live in Chromium, with sound on unmute, until it ends",
  ignore: !livekitServer && !required,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    assert.ok(livekitServer, "livekit-server is not built: run dev/build_livekit.sh");
    const stack = await startLiveStack(livekitServer);
    const { server } = stack;
    const browser = await launchChromium();
    try {
      const streamerToken = await userToken(server.env.SUPABASE_JWT_SECRET, STREAMER_A);
      const { session } = await startPublishing({
        stack,
        browser,
        streamerToken,
        title: "Live test",
      });

      const link = await createLinkSigner(server.env.LINK_SIGNING_SECRET).sign({
        type: "watch",
        guardianId: GUARDIAN_A_ROW,
        objectId: session.id,
      });
      // As a deployed page would be: built before anyone opens it.
      assert.equal((await fetch(`${server.url}/viewer/`).then((r) => r.text())).length > 0, true);
      const page = await browser.newPage({ viewport: VIEWPORTS[1] });
      await page.addInitScript(() => {
        // The first decoded frame of any <video>, in ms since navigation started.
        globalThis.__firstFrameMs = undefined;
        new MutationObserver(() => {
          const video = document.querySelector("video");
          if (!video || video.__watched) return;
          video.__watched = true;
          video.requestVideoFrameCallback(() => globalThis.__firstFrameMs ??= performance.now());
        }).observe(document, { childList: true, subtree: true });
      });

      await t.step("moving video at 1280 wide, announced as live", async () => {
        await page.goto(`${server.url}/viewer/#/watch?link=${link}`);
        await waitForStatus(page, /^Live\./, 30_000);
        await page.getByText("● LIVE").waitFor();
        await waitForStatus(page, /^Live\. 1 person watching\./, 15_000);
        await page.waitForFunction(() => globalThis.__firstFrameMs !== undefined, null, {
          timeout: 30_000,
        });
        const firstFrameMs = await page.evaluate(() => globalThis.__firstFrameMs);
        console.log(
          `watch link opened → first video frame decoded: ${Math.round(firstFrameMs)} ms`,
        );
        const before = await page.evaluate(() =>
          document.querySelector("video").getVideoPlaybackQuality().totalVideoFrames
        );
        await page.waitForTimeout(1000);
        const after = await page.evaluate(() => {
          const video = document.querySelector("video");
          return {
            frames: video.getVideoPlaybackQuality().totalVideoFrames,
            width: video.videoWidth,
            muted: video.muted,
          };
        });
        assert.ok(after.frames - before >= 10, `${after.frames - before} frames in a second`);
        assert.equal(after.width, 1280);
        assert.equal(after.muted, true);
        for (const size of VIEWPORTS) {
          await page.setViewportSize(size);
          await assertAccessibleLayout(page, `live view at ${size.width}×${size.height}`);
          await screenshot(page, `watch-live-${size.width}x${size.height}`);
        }
      });

      await t.step("sound plays after a click on unmute", async () => {
        await page.getByRole("button", { name: "Tap to unmute" }).click();
        await page.getByRole("button", { name: "Mute" }).waitFor();
        const audio = await page.evaluate(() => {
          const element = document.querySelector("audio");
          return {
            muted: element.muted,
            paused: element.paused,
            tracks: element.srcObject?.getAudioTracks().length ?? 0,
          };
        });
        assert.deepEqual(audio, { muted: false, paused: false, tracks: 1 });
      });

      await t.step("the streamer ending flips the page to the ended state", async () => {
        const ended = await fetch(`${server.url}/functions/v1/end-session`, {
          method: "POST",
          headers: {
            authorization: `Bearer ${streamerToken}`,
            "content-type": "application/json",
          },
          body: JSON.stringify({ sessionId: session.id }),
        });
        assert.equal(ended.status, 200);
        await waitForStatus(page, /^The stream has ended\./, 30_000);
        assert.equal(await page.locator("video").count(), 0);
      });
    } finally {
      await browser.close().catch(() => {});
      await stack.stop();
    }
  },
});
