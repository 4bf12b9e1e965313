/**
 * The kernel's child-safety rules in process: typed text, the size of `invalid_request`,
 * anonymous and vanished users, viewer grants, egress targets, and what a webhook payload may
 * keep.
 */
import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { TokenVerifier } from "livekit-server-sdk";
import { z } from "zod";
import { createTokenVerifier } from "../../shared/kernel/auth.ts";
import { validate } from "../../shared/kernel/body.ts";
import { fixedClock } from "../../shared/kernel/clock.ts";
import { egressEnv, parseConfig } from "../../shared/kernel/env.ts";
import { HttpError, invalidRequest } from "../../shared/kernel/errors.ts";
import {
  guardianIdentity,
  issueGrant,
  parseIdentity,
  recordingTargetOf,
} from "../../shared/livekit.ts";
import { mapDatabaseError } from "../../shared/kernel/pg_errors.ts";
import { hasUnsafeCharacters, safeText } from "../../shared/kernel/text.ts";
import {
  oversizedFields,
  REDACTED,
  withoutSecrets,
} from "../../supabase/functions/livekit-webhook/payload.ts";

const clock = fixedClock("2026-12-06T10:00:00Z");
const GUARDIAN = "44444444-4444-4444-8444-444444444444";

Deno.test("safeText refuses Cc, Cf, unpaired surrogates and line separators anywhere", () => {
  const title = safeText({ label: "The title", max: 20 });
  for (
    const bad of [
      "a\u0000b",
      "a\tb",
      "a\r\nb",
      "trailing\n",
      "\u202Eevil",
      "zero\u200Bwidth",
      "joiner\u200D",
      "\uFEFFbom",
      "soft\u00ADhyphen",
      "line\u2028sep",
      "para\u2029sep",
      "lone\uD800",
    ]
  ) {
    assert.ok(hasUnsafeCharacters(bad), JSON.stringify(bad));
    const result = title.safeParse(bad);
    assert.equal(result.success, false, JSON.stringify(bad));
    assert.match(result.error!.issues[0].message, /^The title must not contain control/);
  }
  assert.equal(title.parse("  Zoë 🎮 plays  "), "Zoë 🎮 plays");
  assert.equal(title.safeParse("   ").success, false);
  assert.equal(title.safeParse("x".repeat(21)).success, false);
  const client = safeText({ max: 5, min: 0, trim: false });
  assert.equal(client.parse(""), "");
  assert.equal(client.parse(" a "), " a ");
});

Deno.test("invalid_request lists at most 20 fields, then how many more, each clipped", () => {
  const issues = Array.from({ length: 6000 }, (_, i) => ({ path: `f${i}`, message: "Bad." }));
  const error = invalidRequest(issues);
  const details = error.details as { path: string; message: string }[];
  assert.equal(details.length, 21);
  assert.deepEqual(details[19], { path: "f19", message: "Bad." });
  assert.deepEqual(details[20], { path: "", message: "and 5980 more" });

  const long = invalidRequest([{ path: "k".repeat(10_000), message: "m".repeat(10_000) }]);
  const [only] = long.details as { path: string; message: string }[];
  assert.ok(only.path.length <= 200 && only.message.length <= 200);

  const exactly = invalidRequest(issues.slice(0, 20));
  assert.equal((exactly.details as unknown[]).length, 20);
});

Deno.test("validate reports thousands of unknown fields in a short error", () => {
  const body: Record<string, number> = {};
  for (let i = 0; i < 6000; i++) body[`f${i}`] = 0;
  assert.throws(() => validate(z.strictObject({ a: z.string().optional() }), body), (error) => {
    assert.ok(error instanceof HttpError);
    assert.ok(JSON.stringify(error.details).length < 2000);
    return true;
  });
});

Deno.test("an anonymous user's token is 403 forbidden, but only once it is verified", async () => {
  const secret = "test-jwt-secret-with-at-least-32-characters!";
  const verifier = createTokenVerifier({
    supabaseUrl: "http://127.0.0.1:54321",
    jwtSecret: secret,
    remoteJwks: false,
    clock,
  });
  const now = Math.floor(clock.now().getTime() / 1000);
  const sign = (claims: Record<string, unknown>, key = secret) =>
    new SignJWT({
      sub: GUARDIAN,
      role: "authenticated",
      aud: "authenticated",
      exp: now + 3600,
      ...claims,
    }).setProtectedHeader({ alg: "HS256" }).sign(new TextEncoder().encode(key));

  const status = (promise: Promise<unknown>) =>
    promise.then(() => 200, (error: HttpError) => error.status);
  assert.equal(await status(verifier.verifyUser(await sign({ is_anonymous: true }))), 403);
  assert.equal(await status(verifier.verifyUser(await sign({ is_anonymous: "yes" }))), 403);
  assert.equal(await status(verifier.verifyUser(await sign({ is_anonymous: false }))), 200);
  assert.equal(await status(verifier.verifyUser(await sign({}))), 200);
  const forged = await sign({ is_anonymous: true }, "another-secret-of-at-least-32-characters");
  assert.equal(await status(verifier.verifyUser(forged)), 401);
});

Deno.test("a foreign key to auth.users from the caller's own row is 401 unauthorized", () => {
  const error = Object.assign(new Error("insert violates foreign key"), {
    name: "PostgresError",
    code: "23503",
    constraint_name: "stream_sessions_streamer_id_fkey",
  });
  const mapped = mapDatabaseError(error);
  assert.equal(mapped?.status, 401);
  assert.equal(mapped?.code, "unauthorized");
  const other = Object.assign(new Error("other"), {
    name: "PostgresError",
    code: "23503",
    constraint_name: "recordings_session_id_fkey",
  });
  assert.equal(mapDatabaseError(other)?.status, 500);
});

Deno.test("viewer grants are guardian:{id} for 5 minutes; the publisher's for 15", async () => {
  const settings = {
    url: "ws://livekit.test",
    httpUrl: "http://livekit.test",
    apiKey: "APIunit",
    apiSecret: "unit-secret-unit-secret-unit-secret-0123",
    timeoutSeconds: 1,
  };
  const livekit = new TokenVerifier(settings.apiKey, settings.apiSecret);
  const viewer = await issueGrant(settings, {
    roomName: "session-x",
    identity: guardianIdentity(GUARDIAN),
    publisher: false,
    clock: { now: () => new Date() },
  });
  assert.equal(viewer.identity, `guardian:${GUARDIAN}`);
  const viewerClaims = await livekit.verify(viewer.token);
  const viewerLife = viewerClaims.exp! - Math.floor(Date.now() / 1000);
  assert.ok(viewerLife > 290 && viewerLife <= 300, `${viewerLife}`);
  const publisher = await issueGrant(settings, {
    roomName: "session-x",
    identity: "streamer:x",
    publisher: true,
    clock: { now: () => new Date() },
  });
  const publisherLife = (await livekit.verify(publisher.token)).exp! -
    Math.floor(Date.now() / 1000);
  assert.ok(publisherLife > 890 && publisherLife <= 900, `${publisherLife}`);

  assert.deepEqual(parseIdentity(`guardian:${GUARDIAN}`), {
    kind: "guardian",
    guardianId: GUARDIAN,
  });
  assert.deepEqual(parseIdentity(`guardian:${GUARDIAN}:abc123`), {
    kind: "guardian",
    guardianId: GUARDIAN,
  });
  assert.deepEqual(parseIdentity(`guardian:${GUARDIAN}:`), { kind: "other" });
});

Deno.test("egress gets credentials only with EGRESS_STORAGE=request", () => {
  const storage = { bucket: "b", credentials: { private_key: "-----BEGIN PRIVATE KEY-----" } };
  assert.equal(parseConfig({ egress: egressEnv }, {}).egress.egressStorage, "livekit");
  assert.equal(recordingTargetOf(storage)?.bucket, "b");
  assert.equal(recordingTargetOf(storage)?.credentialsJson, undefined);
  assert.equal(
    recordingTargetOf(storage, { egressStorage: "livekit" })?.credentialsJson,
    undefined,
  );
  assert.equal(
    recordingTargetOf(storage, { egressStorage: "request" })?.credentialsJson,
    JSON.stringify(storage.credentials),
  );
  assert.equal(recordingTargetOf(undefined), undefined);
  assert.throws(() => parseConfig({ egress: egressEnv }, { EGRESS_STORAGE: "bucket" }));
});

Deno.test("webhook payloads lose key material at any depth and keep the rest", () => {
  const event = {
    id: "EV_1",
    egressInfo: {
      roomName: "session-x",
      participant: {
        fileOutputs: [{ filepath: "p", gcp: { bucket: "b", credentials: "{...}" } }, {
          s3: { accessKey: "AKIA", secret: "s", session_token: "t", bucket: "b2" },
          azure: { accountName: "n", accountKey: "k" },
        }],
      },
      details: "-----BEGIN RSA PRIVATE KEY-----\nabc",
      nested: { Private_Key: "x", api_key: "y", apiSecret: "z", password: "p" },
    },
  };
  const clean = withoutSecrets(event);
  assert.deepEqual(clean, {
    id: "EV_1",
    egressInfo: {
      roomName: "session-x",
      participant: {
        fileOutputs: [{ filepath: "p", gcp: { bucket: "b" } }, {
          s3: { bucket: "b2" },
          azure: { accountName: "n" },
        }],
      },
      details: REDACTED,
      nested: {},
    },
  });
  assert.equal(event.egressInfo.participant.fileOutputs[0].gcp?.credentials, "{...}", "a copy");
});

Deno.test("oversized webhook fields are listed by path", () => {
  assert.deepEqual(oversizedFields({ id: "EV", room: { name: "session-x" } }), []);
  const issues = oversizedFields({
    id: "e".repeat(257),
    room: { name: "r".repeat(9000) },
    egressInfo: { fileResults: [{ filename: "f".repeat(513), location: "l".repeat(400) }] },
    participant: { metadata: "m".repeat(16 * 1024 + 1) },
  });
  assert.deepEqual(issues.map((issue) => issue.path), [
    "id",
    "room.name",
    "egressInfo.fileResults.0.filename",
    "participant.metadata",
  ]);
});
