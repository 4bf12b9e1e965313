/**
 * Two child-safety promises of API.md ("Who may see a child") on the real `livekit-server`, in
 * Debian's Chromium, with a streamer publishing:
 *
 * - each guardian watches on one device at a time: the same watch link opened on a second
 *   device plays there, and the first says "you started watching on another device"
 *   (LiveKit's `DUPLICATE_IDENTITY`); its "Watch here" takes the stream back;
 * - revoking a guardian removes it from the live room within seconds (`RemoveParticipant`, so
 *   the page shows access removed and `ListParticipants` no longer lists `guardian:{id}`), and
 *   its links die at once (a reload shows the dead-link message, `livekit-token` is `401`);
 *   by the streamer and by the primary guardian, the two who may revoke.
 *
 * The guardians are invited, approved and consent through the functions, as in production.
 * Without the livekit-server binary the test is skipped, unless `VIEWER_LIVE_REQUIRED=1` (CI).
 * Every wait is bounded; nothing is timed.
 */
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { RoomServiceClient } from "livekit-server-sdk";
import { GUARDIAN_A_ROW, GUARDIAN_USER, STREAMER_A } from "../../dev/seed_ids.ts";
import { createLinkSigner, type LinkSigner } from "../../shared/kernel/link.ts";
import { userToken } from "../support/tokens.ts";
import { launchChromium, pageErrors, waitForStatus } from "./browser.ts";
import {
  findLiveKitServer,
  type LiveStack,
  openClientPage,
  startLiveStack,
  startPublishing,
  waitForFramesToAdvance,
} from "./live_stack.ts";

// The callbacks given to `page.evaluate` run in Chromium (see `browser.ts`).
// deno-lint-ignore no-explicit-any
type PageGlobal = any;
declare const document: PageGlobal;
declare const globalThis: PageGlobal;

const livekitServer = await findLiveKitServer();
const required = Deno.env.get("VIEWER_LIVE_REQUIRED") === "1";

/** What the watch page announces (`viewer/src/watch_machine.ts`, `describeProblem`). */
const ANOTHER_DEVICE = /^You started watching on another device/;
const ACCESS_REMOVED = /^Your access to this stream was removed\./;
const DEAD_LINK = /^This link has expired or is no longer active\./;
const LIVE = /^Live\./;

/** How long LiveKit and the page may take to show a change ("within seconds"). */
const SECONDS = 20_000;

interface Call {
  token?: string;
  method?: string;
  body?: unknown;
  query?: string;
  link?: string;
}

async function call(stack: LiveStack, name: string, init: Call) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.link) headers["x-link-token"] = init.link;
  const response = await fetch(`${stack.server.url}/functions/v1/${name}${init.query ?? ""}`, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: response.status, json: await response.json() };
}

/**
 * An active guardian of streamer A, made as production makes one: the streamer invites, the
 * primary guardian approves by its approval link, the invitee consents by its consent link.
 */
async function activeGuardian(
  stack: LiveStack,
  links: LinkSigner,
  invite: { streamerToken: string; email: string; name: string },
): Promise<string> {
  const invited = await call(stack, "guardians", {
    token: invite.streamerToken,
    body: { email: invite.email, name: invite.name },
  });
  assert.equal(invited.status, 201, JSON.stringify(invited.json));
  const guardianId: string = invited.json.guardian.id;
  assert.equal(invited.json.guardian.status, "awaiting_approval");
  const approval = await links.sign({
    type: "approval",
    guardianId: GUARDIAN_A_ROW,
    objectId: guardianId,
  });
  const approved = await call(stack, "guardian-approval", {
    body: { link: approval, decision: "approve" },
  });
  assert.equal(approved.status, 200, JSON.stringify(approved.json));
  const consent = await links.sign({ type: "consent", guardianId, objectId: guardianId });
  const consented = await call(stack, "guardian-consent", { body: { link: consent } });
  assert.equal(consented.status, 200, JSON.stringify(consented.json));
  assert.equal(consented.json.guardian.status, "active");
  return guardianId;
}

/** The identities in the room now, from LiveKit's own `ListParticipants`. */
async function participants(rooms: RoomServiceClient, roomName: string): Promise<string[]> {
  return (await rooms.listParticipants(roomName)).map((p) => p.identity).sort();
}

/** Polls `ListParticipants` (bounded) until `probe` holds; returns the last list. */
async function untilParticipants(
  rooms: RoomServiceClient,
  roomName: string,
  what: string,
  probe: (identities: string[]) => boolean,
): Promise<string[]> {
  const deadline = Date.now() + SECONDS;
  let identities: string[] = [];
  while (Date.now() < deadline) {
    identities = await participants(rooms, roomName);
    if (probe(identities)) return identities;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`ListParticipants never showed ${what}: [${identities.join(", ")}]`);
}

/** How many live tracks the page's `<video>` and `<audio>` elements play. */
function liveTracks(): number {
  return [...document.querySelectorAll("video, audio")]
    .flatMap((element: PageGlobal) => element.srcObject?.getTracks() ?? [])
    .filter((track: PageGlobal) => track.readyState === "live").length;
}

/**
 * Waits (bounded) until the page's `<video>` and `<audio>` hold no live track: a stopped or
 * removed viewer keeps no picture or sound of the child.
 */
async function waitForNoMedia(page: Page): Promise<void> {
  await page.waitForFunction(`(${liveTracks.toString()})() === 0`, null, { timeout: SECONDS });
}

/** A "device": its own browser context (own storage), on the watch link. */
async function openWatchLink(browser: Browser, stack: LiveStack, link: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  await page.goto(`${stack.server.url}/viewer/#/watch?link=${link}`);
  return page;
}

Deno.test({
  name: "one device per guardian, and a revoked guardian is removed from the live room at once",
  ignore: !livekitServer && !required,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    assert.ok(livekitServer, "livekit-server is not built: run dev/build_livekit.sh");
    const stack = await startLiveStack(livekitServer);
    const browser = await launchChromium().catch(async (error) => {
      await stack.stop();
      throw error;
    });
    const errors: string[][] = [];
    try {
      const links = createLinkSigner(stack.server.env.LINK_SIGNING_SECRET);
      const rooms = new RoomServiceClient(stack.livekit.httpUrl, stack.apiKey, stack.apiSecret);
      const streamerToken = await userToken(stack.server.env.SUPABASE_JWT_SECRET, STREAMER_A);
      const grandpa = await activeGuardian(stack, links, {
        streamerToken,
        email: "grandpa@example.test",
        name: "Grandpa",
      });
      const aunt = await activeGuardian(stack, links, {
        streamerToken,
        email: "aunt@example.test",
        name: "Aunt Jo",
      });
      const { session, roomName } = await startPublishing({
        stack,
        browser,
        streamerToken,
        title: "Safety test",
      });
      const grandpaLink = await links.sign({
        type: "watch",
        guardianId: grandpa,
        objectId: session.id,
      });
      const grandpaIdentity = `guardian:${grandpa}`;

      let laptop: Page;
      let phone: Page;
      await t.step("the same link on a second device plays there and stops the first", async () => {
        laptop = await openWatchLink(browser, stack, grandpaLink);
        errors.push(pageErrors(laptop));
        await waitForStatus(laptop, LIVE, SECONDS);
        await waitForFramesToAdvance(laptop);

        phone = await openWatchLink(browser, stack, grandpaLink);
        errors.push(pageErrors(phone));
        await waitForStatus(phone, LIVE, SECONDS);
        await waitForFramesToAdvance(phone);
        assert.equal(await phone.evaluate(liveTracks), 2, "the playing device has video and sound");
        await waitForStatus(laptop, ANOTHER_DEVICE, SECONDS);
        await waitForNoMedia(laptop);
        const identities = await participants(rooms, roomName);
        assert.equal(
          identities.filter((identity) => identity === grandpaIdentity).length,
          1,
          `one connection of ${grandpaIdentity}: [${identities.join(", ")}]`,
        );
      });

      await t.step("“Watch here” takes the stream back to the first device", async () => {
        await laptop.getByRole("button", { name: "Watch here" }).click();
        await waitForStatus(laptop, LIVE, SECONDS);
        await waitForFramesToAdvance(laptop);
        await waitForStatus(phone, ANOTHER_DEVICE, SECONDS);
        await phone.context().close();
      });

      // The last grant the link got before the revocation (valid up to 5 minutes), as a client
      // that bypasses the page would keep it.
      let lastGrant: { url: string; token: string };
      await t.step("revoked by the streamer: removed from the room, its link dead", async () => {
        const before = await call(stack, "livekit-token", { link: grandpaLink, body: {} });
        assert.equal(before.status, 200, JSON.stringify(before.json));
        lastGrant = before.json.livekit;
        const revoked = await call(stack, "guardians", {
          token: streamerToken,
          method: "DELETE",
          query: `?guardianId=${grandpa}`,
        });
        assert.equal(revoked.status, 200, JSON.stringify(revoked.json));
        assert.equal(revoked.json.guardian.status, "revoked");
        await waitForStatus(laptop, ACCESS_REMOVED, SECONDS);
        await waitForNoMedia(laptop);
        await untilParticipants(
          rooms,
          roomName,
          `no ${grandpaIdentity}`,
          (identities) => !identities.includes(grandpaIdentity),
        );

        // The tab kept the link (sessionStorage): a reload asks for a grant with it again.
        await laptop.reload();
        await waitForStatus(laptop, DEAD_LINK, SECONDS);
        const grant = await call(stack, "livekit-token", { link: grandpaLink, body: {} });
        assert.equal(grant.status, 401);
        assert.equal(grant.json.error.code, "invalid_link");
        // Nobody rejoined under the revoked identity meanwhile.
        assert.ok(!(await participants(rooms, roomName)).includes(grandpaIdentity));
      });

      await t.step("the revoked guardian's last grant does not keep it in the room", async () => {
        const client = await openClientPage(browser);
        // LiveKit checks a grant's expiry only at join: the join itself may succeed. Not awaited:
        // a connection removed while it connects may wait for livekit-client's own timeout.
        await client.evaluate(([url, token]: string[]) => {
          globalThis.join(url, token);
        }, [lastGrant.url, lastGrant.token]);
        await client.waitForFunction(
          () => globalThis.joinState === "disconnected" || globalThis.joinState === "failed",
          null,
          { timeout: 45_000 },
        );
        await untilParticipants(
          rooms,
          roomName,
          `no ${grandpaIdentity}`,
          (identities) => !identities.includes(grandpaIdentity),
        );
        await client.close();
      });

      await t.step("revoked by the primary guardian: the same", async () => {
        const auntLink = await links.sign({
          type: "watch",
          guardianId: aunt,
          objectId: session.id,
        });
        const tablet = await openWatchLink(browser, stack, auntLink);
        errors.push(pageErrors(tablet));
        await waitForStatus(tablet, LIVE, SECONDS);
        await waitForFramesToAdvance(tablet);
        await untilParticipants(
          rooms,
          roomName,
          `guardian:${aunt}`,
          (identities) => identities.includes(`guardian:${aunt}`),
        );

        const parentToken = await userToken(stack.server.env.SUPABASE_JWT_SECRET, GUARDIAN_USER);
        const revoked = await call(stack, "guardians", {
          token: parentToken,
          method: "DELETE",
          query: `?guardianId=${aunt}&streamerId=${STREAMER_A}`,
        });
        assert.equal(revoked.status, 200, JSON.stringify(revoked.json));
        assert.equal(revoked.json.guardian.status, "revoked");
        await waitForStatus(tablet, ACCESS_REMOVED, SECONDS);
        await waitForNoMedia(tablet);
        await untilParticipants(
          rooms,
          roomName,
          `no guardian:${aunt}`,
          (identities) => !identities.includes(`guardian:${aunt}`),
        );
        const grant = await call(stack, "livekit-token", { link: auntLink, body: {} });
        assert.equal(grant.status, 401);
        assert.equal(grant.json.error.code, "invalid_link");
        // The streamer is still there, publishing: only the revoked guardians left.
        assert.ok((await participants(rooms, roomName)).some((id) => !id.startsWith("guardian:")));
      });
      assert.deepEqual(errors.flat(), [], "errors in the watch pages");
    } finally {
      await browser.close().catch(() => {});
      await stack.stop();
    }
  },
});
