/**
 * Rotation with overlap, in process: links are signed with the current secret only and the
 * previous one verifies; webhooks verify with the key pair their token names; the settings
 * refuse weak or half-set previous secrets, naming them and never their values.
 */
import assert from "node:assert/strict";
import { fixedClock } from "../../shared/kernel/clock.ts";
import { linkEnv, livekitWebhookPreviousEnv, parseConfig } from "../../shared/kernel/env.ts";
import { HttpError } from "../../shared/kernel/errors.ts";
import { createLinkSigner } from "../../shared/kernel/link.ts";
import { createLogger } from "../../shared/kernel/log.ts";
import { createWebhookVerifier } from "../../supabase/functions/livekit-webhook/signing_keys.ts";
import { signEvent } from "../support/webhook_events.ts";

const OLD = "old-link-secret-of-at-least-32-characters";
const NEW = "new-link-secret-of-at-least-32-characters";
const GUARDIAN = "44444444-4444-4444-8444-444444444444";
const link = { type: "watch" as const, guardianId: GUARDIAN, objectId: GUARDIAN };

function isInvalidLink(error: unknown): boolean {
  assert.ok(error instanceof HttpError);
  assert.equal(error.code, "invalid_link");
  return true;
}

Deno.test("a rotating link signer signs with the current secret only", async () => {
  const clock = fixedClock("2026-12-06T10:00:00Z");
  const rotating = createLinkSigner({ linkSecret: NEW, previousLinkSecret: OLD }, clock, {
    log: createLogger({}, () => {}),
  });
  const token = await rotating.sign(link);
  await createLinkSigner(NEW, clock).verify(token, "watch");
  await assert.rejects(createLinkSigner(OLD, clock).verify(token, "watch"), isInvalidLink);
});

Deno.test("the previous link secret verifies, and says so without the secret or the token", async () => {
  const clock = fixedClock("2026-12-06T10:00:00Z");
  const lines: string[] = [];
  const rotating = createLinkSigner({ linkSecret: NEW, previousLinkSecret: OLD }, clock, {
    log: createLogger({ function: "test" }, (line) => lines.push(line)),
  });
  const old = await createLinkSigner(OLD, clock).sign(link);
  assert.equal((await rotating.verify(old, "watch")).guardianId, GUARDIAN);
  assert.equal(lines.length, 1);
  const logged = JSON.parse(lines[0]);
  assert.equal(logged.message, "link accepted with LINK_SIGNING_SECRET_PREVIOUS");
  assert.equal(logged.type, "watch");
  assert.ok(!lines[0].includes(OLD) && !lines[0].includes(old));

  // A current link is not reported.
  await rotating.verify(await rotating.sign(link), "watch");
  assert.equal(lines.length, 1);
});

Deno.test("the previous secret does not revive expired or mistyped links", async () => {
  const clock = fixedClock("2026-12-06T10:00:00Z");
  const rotating = createLinkSigner({ linkSecret: NEW, previousLinkSecret: OLD }, clock, {
    log: createLogger({}, () => {}),
  });
  const old = await createLinkSigner(OLD, clock).sign(link);
  await assert.rejects(rotating.verify(old, "recording"), isInvalidLink);
  clock.advance(25 * 3600);
  await assert.rejects(rotating.verify(old, "watch"), isInvalidLink);
});

Deno.test("previous secrets are checked at boot, by name, never by value", () => {
  assert.throws(
    () =>
      parseConfig({ link: linkEnv }, {
        LINK_SIGNING_SECRET: NEW,
        LINK_SIGNING_SECRET_PREVIOUS: "short-old-value",
      }),
    (error: Error) => {
      assert.match(error.message, /LINK_SIGNING_SECRET_PREVIOUS must be at least 32 characters/);
      assert.doesNotMatch(error.message, /short-old-value/);
      return true;
    },
  );
  assert.throws(
    () =>
      parseConfig({ previous: livekitWebhookPreviousEnv }, {
        LIVEKIT_WEBHOOK_PREVIOUS_API_KEY: "APIold",
      }),
    /LIVEKIT_WEBHOOK_PREVIOUS_API_SECRET must be set too/,
  );
  const none = parseConfig({ link: linkEnv, previous: livekitWebhookPreviousEnv }, {
    LINK_SIGNING_SECRET: NEW,
  });
  assert.deepEqual(none, {
    link: { linkSecret: NEW, previousLinkSecret: undefined },
    previous: undefined,
  });
});

Deno.test("a webhook verifies with the key pair its token names", async () => {
  const current = { apiKey: "APInew", apiSecret: "new-livekit-secret-of-32-characters-or-more" };
  const previous = { apiKey: "APIold", apiSecret: "old-livekit-secret-of-32-characters-or-more" };
  const event = { id: "EV_1", event: "room_started", room: { name: "session-x" } };
  const verifier = createWebhookVerifier(current, previous);

  const byCurrent = await signEvent(event, current.apiKey, current.apiSecret);
  assert.equal(
    (await verifier.receive(byCurrent.body, byCurrent.authorization)).keyUsed,
    "current",
  );
  const byPrevious = await signEvent(event, previous.apiKey, previous.apiSecret);
  const received = await verifier.receive(byPrevious.body, byPrevious.authorization);
  assert.equal(received.keyUsed, "previous");
  assert.equal(received.event.id, "EV_1");

  // The previous name with the current secret, or the current name with the previous secret.
  for (
    const [apiKey, apiSecret] of [[previous.apiKey, current.apiSecret], [
      current.apiKey,
      previous.apiSecret,
    ]]
  ) {
    const crossed = await signEvent(event, apiKey, apiSecret);
    await assert.rejects(verifier.receive(crossed.body, crossed.authorization));
  }
  // Without the previous pair, its webhooks are refused.
  await assert.rejects(
    createWebhookVerifier(current).receive(byPrevious.body, byPrevious.authorization),
  );
});

Deno.test("a key whose secret alone was rotated verifies with either secret while both are set", async () => {
  const current = { apiKey: "APIsame", apiSecret: "new-livekit-secret-of-32-characters-or-more" };
  const previous = { apiKey: "APIsame", apiSecret: "old-livekit-secret-of-32-characters-or-more" };
  const event = { id: "EV_2", event: "room_started", room: { name: "session-y" } };
  const verifier = createWebhookVerifier(current, previous);
  const old = await signEvent(event, previous.apiKey, previous.apiSecret);
  assert.equal((await verifier.receive(old.body, old.authorization)).keyUsed, "previous");
  const fresh = await signEvent(event, current.apiKey, current.apiSecret);
  assert.equal((await verifier.receive(fresh.body, fresh.authorization)).keyUsed, "current");
  const forged = await signEvent(event, "APIsame", "some-other-secret-of-32-characters-or-more");
  await assert.rejects(verifier.receive(forged.body, forged.authorization));
});
