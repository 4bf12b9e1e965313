/**
 * The standalone viewer in Debian's Chromium against the local stack (`dev/server.ts` on a
 * fresh database, the GCS double as the bucket), opened the way a parent opens an email link:
 * `/viewer/#/<page>?link=…`. Each page is also checked at 390×844 and 1280×800.
 *
 * Not part of `deno task test` (the file name does not end in `test.ts`): `.ci/run` runs it
 * as its own tier, `deno task test:browser` locally. Needs `chromium` and `ffmpeg` (apt).
 * The live parts (moving video from the headset stand-in) are in `live_browser.ts`.
 */
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import {
  DEMO_RECORDING,
  DEMO_SESSION,
  GUARDIAN_A_ROW,
  PENDING_ROW,
  REVOKED_ROW,
  STREAMER_A,
} from "../../dev/seed_ids.ts";
import { createLinkSigner, type LinkType } from "../../shared/kernel/link.ts";
import { type GcsDouble, startGcsDouble } from "../support/gcs_double.ts";
import { startServer, type TestServer } from "../support/stack.ts";
import {
  assertAccessibleLayout,
  launchChromium,
  pageErrors,
  screenshot,
  testMp4,
  VIEWPORTS,
  waitForStatus,
} from "./browser.ts";

const LIVE_SESSION = "c0000000-0000-4000-8000-00000000000c";
const INVITED_ROW = "d0000000-0000-4000-8000-00000000000d";
const DEMO_OBJECT = `uploads/${STREAMER_A}/${DEMO_SESSION}/${DEMO_RECORDING}.mp4`;

// The callbacks given to `page.evaluate` run in Chromium (see `browser.ts`).
// deno-lint-ignore no-explicit-any
declare const document: any;

interface Harness {
  server: TestServer;
  gcs: GcsDouble;
  browser: Browser;
  link(type: LinkType, objectId: string, options?: LinkOptions): Promise<string>;
  /** Opens `/viewer/#/<route>?link=<token>` in a fresh page of `width`×`height`. */
  open(route: string, token: string, size?: { width: number; height: number }): Promise<Page>;
  /** Every link token the tests put in an address. */
  tokens: string[];
}

interface LinkOptions {
  guardianId?: string;
  lifetimeSeconds?: number;
}

async function start(): Promise<Harness & { stop(): Promise<void> }> {
  const gcs = await startGcsDouble();
  const server = await startServer({ env: gcs.env });
  try {
    await addFixtures(server);
    gcs.put(DEMO_OBJECT, await testMp4());
  } catch (error) {
    await server.stop();
    await gcs.close();
    throw error;
  }
  const browser = await launchChromium();
  const links = createLinkSigner(server.env.LINK_SIGNING_SECRET);
  const tokens: string[] = [];
  return {
    server,
    gcs,
    browser,
    tokens,
    async link(type, objectId, options = {}) {
      const token = await links.sign(
        { type, guardianId: options.guardianId ?? GUARDIAN_A_ROW, objectId },
        { lifetimeSeconds: options.lifetimeSeconds },
      );
      tokens.push(token);
      return token;
    },
    async open(route, token, size = VIEWPORTS[1]) {
      const page = await browser.newPage({ viewport: { width: size.width, height: size.height } });
      await page.goto(`${server.url}/viewer/#/${route}?link=${token}`);
      return page;
    },
    async stop() {
      await browser.close().catch(() => {});
      await server.stop();
      await gcs.close();
    },
  };
}

/** Rows the seed lacks: a live session of streamer A, and a viewer A invited (undecided). */
async function addFixtures(server: TestServer): Promise<void> {
  await server.sql`
    insert into public.stream_sessions
      (id, streamer_id, title, status, room_name, record, created_at, started_at, updated_at,
       viewers_current, viewers_peak, viewers_total)
    values (${LIVE_SESSION}, ${STREAMER_A}, 'Beat Saber', 'live', ${`session-${LIVE_SESSION}`},
            true, now(), now(), now(), 1, 1, 1)`;
  await server.sql`
    insert into public.guardians
      (id, streamer_id, email, name, role, status, created_at, updated_at)
    values (${INVITED_ROW}, ${STREAMER_A}, 'aunt@example.test', 'Aunt Jo', 'viewer',
            'awaiting_approval', now(), now())`;
}

/** Reads a guardian's state through its preferences link, as the page itself would. */
async function guardianState(h: Harness, guardianId: string) {
  const token = await h.link("preferences", guardianId, { guardianId });
  const response = await fetch(`${h.server.url}/functions/v1/notification-preferences`, {
    headers: { "x-link-token": token },
  });
  assert.equal(response.status, 200);
  return (await response.json()).guardian;
}

async function checkSizes(page: Page, label: string, shot?: string): Promise<void> {
  for (const size of VIEWPORTS) {
    await page.setViewportSize({ width: size.width, height: size.height });
    await assertAccessibleLayout(page, `${label} at ${size.width}×${size.height}`);
    if (shot) await screenshot(page, `${shot}-${size.width}x${size.height}`);
  }
}

Deno.test({
  name: "the viewer's pages in Chromium against the local stack",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const h = await start();
    try {
      await t.step(
        "a link's token leaves the address bar and travels only in x-link-token",
        async () => {
          const token = await h.link("recording", DEMO_RECORDING);
          const page = await h.browser.newPage();
          const sent: { url: string; headers: Record<string, string> }[] = [];
          page.on("request", (request) => {
            sent.push({ url: request.url(), headers: request.headers() });
          });
          await page.goto(`${h.server.url}/viewer/#/recording?link=${token}`);
          await waitForStatus(page, /Recording ready/);
          assert.equal(page.url(), `${h.server.url}/viewer/#/recording`);
          const calls = sent.filter((r) => r.url.includes("/functions/v1/"));
          assert.ok(calls.length > 0);
          for (const request of sent) {
            assert.ok(!request.url.includes(token), `token in the URL of ${request.url}`);
            assert.ok(!request.headers.referer, `Referer sent to ${request.url}`);
          }
          for (const call of calls) assert.equal(call.headers["x-link-token"], token);
          await page.close();
        },
      );

      await t.step(
        "a recording plays, seeks through 206 responses, and offers a download",
        async () => {
          const page = await h.open("recording", await h.link("recording", DEMO_RECORDING));
          const errors = pageErrors(page);
          const ranges: number[] = [];
          page.on("response", (response) => {
            if (response.url().startsWith(h.gcs.url)) ranges.push(response.status());
          });
          await waitForStatus(page, /Recording ready/);
          const video = page.locator("video");
          await video.evaluate((element: { muted: boolean; play(): Promise<void> }) => {
            element.muted = true;
            return element.play();
          });
          await page.waitForFunction(() => document.querySelector("video").currentTime > 0.5);
          await video.evaluate((element: { currentTime: number }) => element.currentTime = 4);
          await page.waitForFunction(() => {
            const element = document.querySelector("video");
            return element.currentTime > 4.3 && !element.paused;
          });
          assert.ok(ranges.includes(206), `bucket answers: ${ranges.join(", ")}`);
          const download = page.getByRole("link", { name: "Download the recording" });
          assert.equal(await download.getAttribute("href"), await video.getAttribute("src"));
          assert.notEqual(await download.getAttribute("download"), null);
          await checkSizes(page, "recording page", "recording");
          assert.deepEqual(errors, []);
          await page.close();
        },
      );

      await t.step("a recording whose URL fails is played from one fresh signed URL", async () => {
        const page = await h.browser.newPage();
        const urlCalls: number[] = [];
        page.on("response", (response) => {
          if (response.url().includes("/functions/v1/recording-url")) {
            urlCalls.push(response.status());
          }
        });
        let refused = 0;
        await page.route(`${h.gcs.url}/**`, async (route) => {
          if (refused++ === 0) return await route.abort("connectionreset");
          await route.continue();
        });
        await page.goto(
          `${h.server.url}/viewer/#/recording?link=${await h.link("recording", DEMO_RECORDING)}`,
        );
        await page.waitForFunction(() => document.querySelector("video")?.readyState >= 1);
        assert.deepEqual(urlCalls, [200, 200]);
        await waitForStatus(page, /Recording ready/);
        await page.close();
      });

      await t.step("a revoked guardian's link says the link is no longer active", async () => {
        const page = await h.open(
          "watch",
          await h.link("watch", DEMO_SESSION, { guardianId: REVOKED_ROW }),
        );
        const status = await waitForStatus(page, /no longer active/);
        assert.match(status, /Open the newest email/);
        await page.close();
      });

      await t.step("an expired watch link says what to do next", async () => {
        const page = await h.open(
          "watch",
          await h.link("watch", LIVE_SESSION, { lifetimeSeconds: -60 }),
        );
        await waitForStatus(page, /expired or is no longer active/);
        await checkSizes(page, "expired watch link", "watch-expired");
        await page.close();
      });

      await t.step("an ended session's watch link lists its recordings", async () => {
        const page = await h.open("watch", await h.link("watch", DEMO_SESSION));
        await waitForStatus(page, /The stream has ended\. 1 recording ready\./);
        assert.equal(await page.locator("video").count(), 0);
        await page.getByText("Recording 1: ready").waitFor();
        await checkSizes(page, "ended stream", "watch-ended");
        await page.close();
      });

      await t.step(
        "a live session that LiveKit cannot serve retries, each time with a fresh grant",
        async () => {
          const page = await h.browser.newPage();
          let grants = 0;
          page.on("response", (response) => {
            if (
              response.url().endsWith("/functions/v1/livekit-token") && response.status() === 200
            ) {
              grants++;
            }
          });
          await page.goto(
            `${h.server.url}/viewer/#/watch?link=${await h.link("watch", LIVE_SESSION)}`,
          );
          await waitForStatus(page, /cannot be reached right now/, 30_000);
          await page.getByRole("button", { name: "Try again now" }).click();
          await waitForStatus(page, /cannot be reached right now/, 30_000);
          assert.ok(grants >= 2, `${grants} grant(s) for two joins`);
          await checkSizes(page, "live view without LiveKit", "watch-unavailable");
          await page.close();
        },
      );

      await t.step("consent waits for the click: opening the page confirms nothing", async () => {
        const page = await h.open(
          "consent",
          await h.link("consent", PENDING_ROW, { guardianId: PENDING_ROW }),
        );
        await waitForStatus(page, /Nothing is confirmed/);
        await page.waitForLoadState("networkidle");
        assert.equal((await guardianState(h, PENDING_ROW)).status, "pending");
        await checkSizes(page, "consent page", "consent");
        await page.getByRole("button", { name: "Yes, I want to watch" }).click();
        await waitForStatus(page, /Confirmed/);
        assert.equal((await guardianState(h, PENDING_ROW)).status, "active");
        await page.close();
      });

      await t.step("preferences save per kind, and unsubscribe from everything", async () => {
        const page = await h.open("preferences", await h.link("preferences", GUARDIAN_A_ROW));
        await waitForStatus(page, /Choose which emails/);
        await checkSizes(page, "preferences page", "preferences");
        await page.getByLabel("When a stream ends").check();
        await page.getByLabel("When a stream starts (with a link to watch)").uncheck();
        await page.getByRole("button", { name: "Save preferences" }).click();
        await waitForStatus(page, /^Saved\./);
        assert.deepEqual((await guardianState(h, GUARDIAN_A_ROW)).notify, {
          streamStarted: false,
          streamEnded: true,
          recordingReady: true,
        });
        await page.getByRole("button", { name: "Unsubscribe from everything" }).click();
        await waitForStatus(page, /unsubscribed from every email/);
        assert.deepEqual((await guardianState(h, GUARDIAN_A_ROW)).notify, {
          streamStarted: false,
          streamEnded: false,
          recordingReady: false,
        });
        assert.equal(await page.getByLabel("When a stream ends").isChecked(), false);
        await page.close();
      });

      await t.step("the primary guardian sees who was invited and approves", async () => {
        const page = await h.open("approval", await h.link("approval", INVITED_ROW));
        await waitForStatus(page, /Nothing is decided/);
        await page.getByText("invited Aunt Jo (aunt@example.test)").waitFor();
        assert.equal((await guardianState(h, INVITED_ROW)).status, "awaiting_approval");
        await checkSizes(page, "approval page", "approval");
        await page.getByRole("button", { name: "Approve" }).click();
        await waitForStatus(page, /^Approved\./);
        assert.equal((await guardianState(h, INVITED_ROW)).status, "pending");
        assert.equal(await page.getByRole("button", { name: "Deny" }).count(), 0);
        await page.close();
      });

      await t.step("a page opened without a link says where links come from", async () => {
        const page = await h.browser.newPage();
        await page.goto(`${h.server.url}/viewer`);
        assert.equal(new URL(page.url()).pathname, "/viewer/");
        await waitForStatus(page, /opens from the links in our emails/);
        await page.close();
      });

      await t.step("no link token reaches the server's output", () => {
        const { stdout, stderr } = h.server.output();
        assert.ok(h.tokens.length > 5);
        for (const token of h.tokens) {
          assert.ok(!stdout.includes(token) && !stderr.includes(token), "a token in the logs");
        }
      });
    } finally {
      await h.stop();
    }
  },
});
