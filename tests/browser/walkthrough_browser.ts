/**
 * The README's walkthrough as a newcomer runs it, in Debian's Chromium: `deno task dev` on a
 * fresh data dir (embedded database, local bucket, the real livekit-server and egress, the
 * schedules), the streamer invites a grandparent, `deno task headset` streams and ends, the
 * headset uploads a recording; every email arrives in `/_dev/mail` by itself, and a parent clicks
 * each kind of link there (approval, consent, watch, preferences from the "stream started" and
 * "stream ended" emails, recording) and lands on a page that works.
 *
 * Needs the binaries of `dev/build_livekit.sh` (livekit-server, egress, Redis); without them it
 * is skipped, unless `VIEWER_LIVE_REQUIRED=1` (CI). Every wait is bounded; nothing is timed.
 */
import assert from "node:assert/strict";
import type { BrowserContext, Page } from "playwright-core";
import { findMediaBinaries } from "../../dev/livekit_binaries.ts";
import { spawnServer } from "../support/stack.ts";
import { launchChromium, pageErrors, waitForStatus } from "./browser.ts";

// The callbacks given to `page.evaluate` run in Chromium (see `browser.ts`).
// deno-lint-ignore no-explicit-any
declare const document: any;

const REPO_ROOT = new URL("../../", import.meta.url);
const binaries = await findMediaBinaries({ build: false, log: () => {} });
const available = Boolean(binaries.livekitServer && binaries.egress && binaries.redis);
const required = Deno.env.get("VIEWER_LIVE_REQUIRED") === "1";

const PARENT = "parent@example.test"; // the seed's active primary guardian of streamer A
const GRAN = "gran@example.org";
const MAIL_TIMEOUT_MS = 60_000;

interface CapturedEmail {
  id: string;
  kind: string;
  to_address: string;
  text_body: string;
  html_body: string;
}

/** What the walkthrough needs of the running `deno task dev`. */
interface Walk {
  url: string;
  /** The streamer's access token, as the banner prints it. */
  token: string;
  context: BrowserContext;
}

/** Polls the mailbox (bounded) until `count` emails of `kind` to `to` are there, newest first. */
async function waitForEmails(
  walk: Walk,
  filter: { kind: string; to: string; count?: number },
): Promise<CapturedEmail[]> {
  const count = filter.count ?? 1;
  const deadline = Date.now() + MAIL_TIMEOUT_MS;
  let seen: CapturedEmail[] = [];
  while (Date.now() < deadline) {
    const response = await fetch(`${walk.url}/_dev/mail?format=json`);
    assert.equal(response.status, 200);
    const { emails } = await response.json() as { emails: CapturedEmail[] };
    seen = emails.filter((email) => email.kind === filter.kind && email.to_address === filter.to);
    if (seen.length >= count) return seen;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(
    `/_dev/mail got ${seen.length} of ${count} ${filter.kind} email(s) to ${filter.to} within ${
      MAIL_TIMEOUT_MS / 1000
    } s`,
  );
}

/**
 * Opens `/_dev/mail`, clicks the email's subject, then the link named `linkName` in its HTML
 * part, and returns the viewer's tab that opens. The page has taken the token out of its address.
 */
async function clickEmailLink(walk: Walk, email: CapturedEmail, linkName: string): Promise<Page> {
  const mailbox = await walk.context.newPage();
  await mailbox.goto(`${walk.url}/_dev/mail`);
  await mailbox.locator(`a[href="/_dev/mail/${email.id}"]`).click();
  const [viewer] = await Promise.all([
    walk.context.waitForEvent("page", { timeout: 15_000 }),
    mailbox.frameLocator("iframe").getByRole("link", { name: linkName }).click(),
  ]);
  await mailbox.close();
  await viewer.waitForURL((url) => !url.hash.includes("link="), { timeout: 15_000 });
  assert.equal(new URL(viewer.url()).pathname, "/viewer/");
  return viewer;
}

async function call(
  walk: Walk,
  name: string,
  init: { method?: string; body?: unknown; query?: string } = {},
) {
  const response = await fetch(`${walk.url}/functions/v1/${name}${init.query ?? ""}`, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers: { authorization: `Bearer ${walk.token}`, "content-type": "application/json" },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  return { status: response.status, json: await response.json() };
}

async function guardian(walk: Walk, email: string) {
  const { status, json } = await call(walk, "guardians");
  assert.equal(status, 200);
  return json.guardians.find((row: { email: string }) => row.email === email);
}

/** `deno task headset --url … --data-dir …`: streams until SIGINT, then ends the session. */
function startHeadset(url: string, dataDir: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "dev/headset.ts", "--url", url, "--data-dir", dataDir],
    cwd: REPO_ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines: string[] = [];
  const waiters: { pattern: RegExp; resolve: (match: RegExpMatchArray) => void }[] = [];
  const decoder = new TextDecoder();
  async function read(stream: ReadableStream<Uint8Array>) {
    let rest = "";
    for await (const chunk of stream) {
      const parts = (rest + decoder.decode(chunk, { stream: true })).split("\n");
      rest = parts.pop() ?? "";
      for (const line of parts) {
        lines.push(line);
        for (const waiter of [...waiters]) {
          const match = line.match(waiter.pattern);
          if (match) {
            waiters.splice(waiters.indexOf(waiter), 1);
            waiter.resolve(match);
          }
        }
      }
    }
  }
  const reading = Promise.all([read(child.stdout), read(child.stderr)]);
  return {
    /** The first output line matching `pattern` (bounded by `timeoutMs`). */
    async line(pattern: RegExp, timeoutMs = 60_000): Promise<RegExpMatchArray> {
      const earlier = lines.map((line) => line.match(pattern)).find((match) => match);
      if (earlier) return earlier;
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        return await new Promise<RegExpMatchArray>((resolve, reject) => {
          waiters.push({ pattern, resolve });
          timer = setTimeout(
            () => reject(new Error(`The headset never printed ${pattern}:\n${lines.join("\n")}`)),
            timeoutMs,
          );
        });
      } finally {
        clearTimeout(timer);
      }
    },
    /** Ctrl-C, as the README says: leave, end the session, exit. */
    async interrupt(): Promise<Deno.CommandStatus> {
      child.kill("SIGINT");
      const status = await child.status;
      await reading;
      return status;
    },
    async kill() {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already exited.
      }
      await child.status;
      await reading;
    },
  };
}

/** Polls `probe` every half second until it is true, for at most a minute. */
async function until(what: string, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

async function waitForFramesToAdvance(page: Page) {
  const frames = await page.evaluate(() =>
    document.querySelector("video").getVideoPlaybackQuality().totalVideoFrames
  );
  await page.waitForFunction(
    (before: number) => {
      const video = document.querySelector("video");
      return video.getVideoPlaybackQuality().totalVideoFrames > before + 10;
    },
    frames,
    { timeout: 30_000 },
  );
}

/** Plays the recording page's video muted until it has played a second and a half. */
async function assertRecordingPlays(page: Page) {
  await waitForStatus(page, /Recording ready/, 30_000);
  await page.locator("video").evaluate((video: { muted: boolean; play(): Promise<void> }) => {
    video.muted = true;
    return video.play();
  });
  await page.waitForFunction(() => document.querySelector("video").currentTime > 1.5, null, {
    timeout: 30_000,
  });
}

Deno.test({
  name: "the README walkthrough: every kind of email link in /_dev/mail opens a working page",
  ignore: !available && !required,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    assert.ok(
      available,
      `The real LiveKit stack is not built: ${JSON.stringify(binaries.missing)}`,
    );
    const dataDir = await Deno.makeTempDir({ prefix: "vrstream-walkthrough-" });
    // `deno task dev` on a fresh data dir, with LiveKit on a port of its own.
    const server = await spawnServer({
      localServices: true,
      args: ["--data-dir", dataDir, "--livekit-port", "0"],
      readyTimeoutMs: 180_000,
    }).catch(async (error) => {
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
      throw error;
    });
    const browser = await launchChromium().catch(async (error) => {
      await server.stop();
      throw error;
    });
    let headset: ReturnType<typeof startHeadset> | undefined;
    let passed = true;
    async function step(name: string, fn: () => Promise<void> | void): Promise<void> {
      if (!await t.step(name, fn)) passed = false;
    }
    try {
      const banner = server.output().stdout;
      assert.match(banner, /^LiveKit: livekit-server /m, banner);
      assert.match(banner, /^Egress: .*egress/m, banner);
      const token = banner.match(/Access token of the seeded streamer A.*\n\s+(\S+)/)?.[1];
      assert.ok(token, `no access token in the banner:\n${banner}`);
      const walk: Walk = { url: server.url, token, context: await browser.newContext() };
      const errors: string[][] = [];
      walk.context.on("page", (page) => errors.push(pageErrors(page)));

      await step(
        "the streamer invites; the parent approves from the approval email",
        async () => {
          const invited = await call(walk, "guardians", { body: { email: GRAN, name: "Gran" } });
          assert.equal(invited.status, 201, JSON.stringify(invited.json));
          assert.equal(invited.json.guardian.status, "awaiting_approval");
          const [approval] = await waitForEmails(walk, { kind: "approval", to: PARENT });
          const page = await clickEmailLink(walk, approval, "Review the invitation");
          await waitForStatus(page, /Nothing is decided/);
          await page.getByText(`invited Gran (${GRAN})`).waitFor();
          await page.getByRole("button", { name: "Approve" }).click();
          await waitForStatus(page, /^Approved\./);
          assert.equal((await guardian(walk, GRAN)).status, "pending");
          await page.close();
        },
      );

      await step("the invitee consents from the consent email, by a click only", async () => {
        const [consent] = await waitForEmails(walk, { kind: "consent", to: GRAN });
        const page = await clickEmailLink(walk, consent, "Yes, I want to watch");
        await waitForStatus(page, /Nothing is confirmed/);
        await page.waitForLoadState("networkidle");
        assert.equal((await guardian(walk, GRAN)).status, "pending");
        await page.getByRole("button", { name: "Yes, I want to watch" }).click();
        await waitForStatus(page, /Confirmed/);
        assert.equal((await guardian(walk, GRAN)).status, "active");
        await page.close();
      });

      let sessionId = "";
      let watchPage: Page | undefined;
      await step("the headset goes live; the watch link shows its moving video", async () => {
        headset = startHeadset(server.url, dataDir);
        sessionId = (await headset.line(/^Session (\S+) started/))[1];
        await headset.line(/^Publishing a 1280x720/);
        // Egress takes a few seconds to start recording; a stream ended before gets none. The
        // watch link is opened only then: a viewer joining while egress starts often left egress's
        // pipeline waiting until the stream ended (livekit-server v1.13.5, egress v1.8.6), and the
        // recording unplayable; that is a known problem of its own, not what this test is about.
        let seen: unknown;
        await until("egress to record the stream", async () => {
          const { json } = await call(walk, "streams", { query: `?sessionId=${sessionId}` });
          seen = json;
          return json.session?.recording.status === "recording";
        }).catch((error) => {
          throw new Error(`${error.message}; last seen ${JSON.stringify(seen)}`);
        });
        const [started] = await waitForEmails(walk, { kind: "stream_started", to: GRAN });
        watchPage = await clickEmailLink(walk, started, "Watch live");
        await waitForStatus(watchPage, /^Live\./, 30_000);
        await watchPage.getByText("● LIVE").waitFor();
        await waitForFramesToAdvance(watchPage);
        assert.equal(
          await watchPage.evaluate(() => document.querySelector("video").videoWidth),
          1280,
        );
      });

      await step("the stream email's preferences link saves a choice", async () => {
        const [started] = await waitForEmails(walk, { kind: "stream_started", to: GRAN });
        const page = await clickEmailLink(
          walk,
          started,
          "Choose which emails you get, or unsubscribe",
        );
        await waitForStatus(page, /Choose which emails/);
        await page.getByLabel("When a stream ends").check();
        await page.getByRole("button", { name: "Save preferences" }).click();
        await waitForStatus(page, /^Saved\./);
        assert.equal((await guardian(walk, GRAN)).notify.streamEnded, true);
        await page.close();
      });

      await step(
        "Ctrl-C in the headset ends the stream, and the watch page says so",
        async () => {
          const status = await headset!.interrupt();
          assert.equal(status.code, 0);
          await headset!.line(new RegExp(`^Session ${sessionId} ended\\.`), 1);
          await waitForStatus(watchPage!, /^The stream has ended\./, 30_000);
          assert.equal(await watchPage!.locator("video").count(), 0);
          await watchPage!.close();
        },
      );

      await step("the stream ended email's link shows the choice kept", async () => {
        const [ended] = await waitForEmails(walk, { kind: "stream_ended", to: GRAN });
        const page = await clickEmailLink(
          walk,
          ended,
          "Choose which emails you get, or unsubscribe",
        );
        await waitForStatus(page, /Choose which emails/);
        assert.equal(await page.getByLabel("When a stream ends").isChecked(), true);
        await page.close();
      });

      await step("the recording email plays what egress recorded", async () => {
        const [ready] = await waitForEmails(walk, { kind: "recording_ready", to: GRAN });
        const page = await clickEmailLink(walk, ready, "Watch the recording");
        await assertRecordingPlays(page);
        await page.close();
      });

      await step("a recording the headset uploads is emailed and plays too", async () => {
        const { json: shown } = await call(walk, "streams", { query: `?sessionId=${sessionId}` });
        const recorded = shown.recordings.find((r: { source: string }) => r.source === "egress");
        assert.equal(recorded?.status, "ready", JSON.stringify(shown));
        const { json: played } = await call(walk, "recording-url", {
          query: `?recordingId=${recorded.id}`,
        });
        const bytes = new Uint8Array(await (await fetch(played.url)).arrayBuffer());
        const signed = await call(walk, "sign-upload-url", {
          body: { sessionId, contentType: "video/mp4", sizeBytes: bytes.length },
        });
        assert.equal(signed.status, 201, JSON.stringify(signed.json));
        const put = await fetch(signed.json.upload.url, {
          method: signed.json.upload.method,
          headers: signed.json.upload.headers,
          body: bytes,
        });
        await put.body?.cancel();
        assert.equal(put.status, 200);
        const completed = await call(walk, "complete-upload", {
          body: { recordingId: signed.json.recording.id },
        });
        assert.equal(completed.json.recording?.status, "ready", JSON.stringify(completed.json));
        const [uploaded] = await waitForEmails(walk, {
          kind: "recording_ready",
          to: GRAN,
          count: 2,
        });
        const page = await clickEmailLink(walk, uploaded, "Watch the recording");
        await assertRecordingPlays(page);
        await page.close();
      });

      await step("one email of each kind per guardian who wants it, none twice", async () => {
        const { emails } = await (await fetch(`${server.url}/_dev/mail?format=json`)).json() as {
          emails: CapturedEmail[];
        };
        const count = (kind: string, to: string) =>
          emails.filter((e) => e.kind === kind && e.to_address === to).length;
        assert.equal(count("stream_started", GRAN), 1);
        assert.equal(count("stream_started", PARENT), 1);
        assert.equal(count("stream_ended", GRAN), 1);
        assert.equal(count("stream_ended", PARENT), 0, "the parent did not ask for it");
        assert.equal(count("consent", GRAN), 1);
        assert.equal(count("approval", PARENT), 1);
      });

      await step(
        "no page error, and no link token of any email in the server's output",
        async () => {
          assert.deepEqual(errors.flat(), []);
          const { emails } = await (await fetch(`${server.url}/_dev/mail?format=json`)).json() as {
            emails: CapturedEmail[];
          };
          const tokens = emails.flatMap((email) =>
            [...email.text_body.matchAll(/link=([\w-]+\.[\w-]+\.[\w-]+)/g)].map((m) => m[1])
          );
          assert.ok(tokens.length >= 8, `${tokens.length} link tokens in the emails`);
          const { stdout, stderr } = server.output();
          for (const token of tokens) {
            assert.ok(!stdout.includes(token) && !stderr.includes(token), "a token in the logs");
          }
        },
      );
    } finally {
      await headset?.kill();
      await browser.close().catch(() => {});
      await server.stop();
      if (passed) {
        await Deno.remove(dataDir, { recursive: true }).catch(() => {});
      } else {
        console.error(
          `Kept ${dataDir} for its logs (livekit/egress.log, livekit/livekit-server.log)`,
        );
      }
    }
  },
});
