import assert from "node:assert/strict";
import { fixedClock } from "../../shared/kernel/clock.ts";
import { authEnv, databaseEnv, linkEnv, livekitEnv, parseConfig } from "../../shared/kernel/env.ts";
import { HttpError } from "../../shared/kernel/errors.ts";
import { createLinkSigner, findLinkToken } from "../../shared/kernel/link.ts";
import { createLogger, redact, redactText } from "../../shared/kernel/log.ts";

const LINK_SECRET = "link-signing-secret-with-32-characters-or-more";
const GUARDIAN = "44444444-4444-4444-8444-444444444444";
const SESSION = "0b9a8f4e-4a47-4c8e-8f3c-9d2f1e0b6a11";

Deno.test("a link token verifies for its own type only", async () => {
  const clock = fixedClock("2026-11-22T10:00:00Z");
  const signer = createLinkSigner(LINK_SECRET, clock);
  const token = await signer.sign({ type: "watch", guardianId: GUARDIAN, objectId: SESSION });
  const claims = await signer.verify(token, "watch");
  assert.equal(claims.guardianId, GUARDIAN);
  assert.equal(claims.objectId, SESSION);
  assert.equal(claims.expiresAt.toISOString(), "2026-11-23T10:00:00.000Z");
  await assert.rejects(signer.verify(token, "recording"), isInvalidLink);
});

Deno.test("expired, tampered and foreign link tokens are 401 invalid_link", async () => {
  const clock = fixedClock("2026-11-22T10:00:00Z");
  const signer = createLinkSigner(LINK_SECRET, clock);
  const token = await signer.sign({ type: "consent", guardianId: GUARDIAN, objectId: GUARDIAN });
  const [header, payload, signature] = token.split(".");
  const forged = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/")));
  forged.obj = SESSION;
  const tampered = `${header}.${
    btoa(JSON.stringify(forged)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_")
  }.${signature}`;
  await assert.rejects(signer.verify(tampered, "consent"), isInvalidLink);
  const other = createLinkSigner("another-link-secret-with-32-characters!!", clock);
  await assert.rejects(other.verify(token, "consent"), isInvalidLink);
  await assert.rejects(signer.verify("garbage", "consent"), isInvalidLink);
  clock.advance(8 * 24 * 3600);
  await assert.rejects(signer.verify(token, "consent"), isInvalidLink);
});

function isInvalidLink(error: unknown): boolean {
  assert.ok(error instanceof HttpError);
  assert.equal(error.status, 401);
  assert.equal(error.code, "invalid_link");
  return true;
}

Deno.test("link tokens come from the header first, then the body, then the query", () => {
  const url = "http://x/f?link=from-query";
  assert.equal(
    findLinkToken(new Request(url, { headers: { "x-link-token": "from-header" } }), {
      link: "from-body",
    }),
    "from-header",
  );
  assert.equal(findLinkToken(new Request(url), { link: "from-body" }), "from-body");
  assert.equal(findLinkToken(new Request(url)), "from-query");
  assert.equal(findLinkToken(new Request("http://x/f")), undefined);
});

Deno.test("configuration names every missing or weak setting, never a value", () => {
  assert.throws(
    () =>
      parseConfig({ db: databaseEnv, auth: authEnv, link: linkEnv }, {
        SUPABASE_URL: "http://127.0.0.1:54321",
        SUPABASE_JWT_SECRET: "short-secret-value",
        LINK_SIGNING_SECRET: "tiny",
      }),
    (error: Error) => {
      assert.match(error.message, /DATABASE_URL/);
      assert.match(error.message, /SUPABASE_JWT_SECRET must be at least 32 characters/);
      assert.match(error.message, /LINK_SIGNING_SECRET must be at least 32 characters/);
      assert.doesNotMatch(error.message, /short-secret-value|tiny/);
      return true;
    },
  );
  assert.throws(
    () => parseConfig({ livekit: livekitEnv }, { LIVEKIT_URL: "wss://lk.example.test" }),
    /LIVEKIT_API_KEY, LIVEKIT_API_SECRET must be set too/,
  );
  const config = parseConfig({ db: databaseEnv, livekit: livekitEnv }, {
    DATABASE_URL: "postgres://a@b/c",
    SUPABASE_DB_URL: "postgres://first@b/c",
  });
  assert.equal(config.db.url, "postgres://first@b/c");
  assert.equal(config.livekit, undefined);
});

Deno.test("logs mask addresses, tokens, signed URLs and secret-named fields", () => {
  assert.equal(redactText("mail parent@example.test now"), "mail p***@example.test now");
  assert.equal(
    redactText("https://storage.example/o?X-Goog-Signature=abcdef&x=1"),
    "https://storage.example/o?X-Goog-Signature=[redacted]&x=1",
  );
  assert.equal(redactText("token eyJhbGciOi.eyJzdWIiOiJ4.sig"), "token [jwt]");
  assert.deepEqual(redact({ apiKey: "SG.x", nested: { password: "p", ok: 1 } }), {
    apiKey: "[redacted]",
    nested: { password: "[redacted]", ok: 1 },
  });
  const lines: string[] = [];
  createLogger({ function: "f" }, (line) => lines.push(line)).info("sent to a@b.example", {
    authorization: "Bearer x",
  });
  assert.doesNotMatch(lines[0], /a@b\.example|Bearer x/);
});
