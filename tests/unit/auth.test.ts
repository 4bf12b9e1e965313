import assert from "node:assert/strict";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { bearerToken, createTokenVerifier } from "../../shared/kernel/auth.ts";
import { fixedClock } from "../../shared/kernel/clock.ts";
import { HttpError } from "../../shared/kernel/errors.ts";

const SUPABASE_URL = "http://127.0.0.1:54321";
const ISSUER = `${SUPABASE_URL}/auth/v1`;
const SECRET = "test-jwt-secret-with-at-least-32-characters!";
const USER = "11111111-1111-4111-8111-111111111111";
const clock = fixedClock("2026-11-22T10:00:00Z");
const now = Math.floor(clock.now().getTime() / 1000);

function claims(overrides: Record<string, unknown> = {}) {
  return {
    sub: USER,
    role: "authenticated",
    aud: "authenticated",
    iss: ISSUER,
    exp: now + 3600,
    iat: now,
    ...overrides,
  };
}

function sign(payload: Record<string, unknown>, secret = SECRET) {
  const body = Object.fromEntries(Object.entries(payload).filter(([, v]) => v !== undefined));
  return new SignJWT(body).setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .sign(new TextEncoder().encode(secret));
}

function base64url(value: unknown): string {
  return btoa(JSON.stringify(value)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
}

const verifier = createTokenVerifier({
  supabaseUrl: SUPABASE_URL,
  jwtSecret: SECRET,
  remoteJwks: false,
  clock,
});

async function rejectsUser(token: string, v = verifier) {
  await assert.rejects(v.verifyUser(token), (error: unknown) => {
    assert.ok(error instanceof HttpError);
    assert.equal(error.status, 401);
    assert.equal(error.code, "unauthorized");
    return true;
  });
}

Deno.test("a valid HS256 user token yields its claims", async () => {
  const user = await verifier.verifyUser(await sign(claims({ email: "a@example.test" })));
  assert.equal(user.sub, USER);
  assert.equal(user.role, "authenticated");
});

Deno.test("a token without iss is accepted; a token from another issuer is not", async () => {
  await verifier.verifyUser(await sign(claims({ iss: undefined })));
  await rejectsUser(await sign(claims({ iss: "https://evil.example/auth/v1" })));
});

Deno.test("alg none is rejected", async () => {
  const unsigned = `${base64url({ alg: "none", typ: "JWT" })}.${base64url(claims())}.`;
  await rejectsUser(unsigned);
});

Deno.test("a token signed with the wrong key is rejected", async () => {
  await rejectsUser(await sign(claims(), "another-secret-that-is-also-long-enough!!"));
});

Deno.test("expired tokens and tokens without exp are rejected", async () => {
  await rejectsUser(await sign(claims({ exp: now - 60 })));
  await rejectsUser(await sign(claims({ exp: undefined })));
});

Deno.test("wrong aud, role or subject are rejected", async () => {
  await rejectsUser(await sign(claims({ aud: "other" })));
  await rejectsUser(await sign(claims({ role: "service_role" })));
  await rejectsUser(await sign(claims({ role: "anon" })));
  await rejectsUser(await sign(claims({ sub: "not-a-uuid" })));
  await rejectsUser(await sign(claims({ sub: undefined })));
});

Deno.test("a remembered token still expires, and its claims are checked on every use", async () => {
  const own = fixedClock("2026-11-22T10:00:00Z");
  const v = createTokenVerifier({
    supabaseUrl: SUPABASE_URL,
    jwtSecret: SECRET,
    remoteJwks: false,
    clock: own,
  });
  const token = await sign(claims({ exp: now + 30 }));
  assert.equal((await v.verifyUser(token)).sub, USER);
  assert.equal((await v.verifyUser(token)).sub, USER);
  // Remembered as verified, but a user token is still no service credential.
  await assert.rejects(v.verifyService(token), HttpError);
  // The same claims under another signature are not the remembered token.
  const [header, payload] = token.split(".");
  const forged = await sign(claims({ exp: now + 30 }), "another-secret-that-is-also-long-enough!!");
  await rejectsUser(`${header}.${payload}.${forged.split(".")[2]}`, v);
  own.advance(40); // past exp and jose's 5 s tolerance
  await rejectsUser(token, v);
});

Deno.test("malformed tokens are rejected", async () => {
  for (const token of ["", "abc", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30", "...."]) {
    await rejectsUser(token);
  }
});

Deno.test("asymmetric tokens verify against SUPABASE_JWKS, and HS/RS confusion fails", async () => {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "RS256", use: "sig" };
  const rsVerifier = createTokenVerifier({
    supabaseUrl: SUPABASE_URL,
    jwtSecret: SECRET,
    jwks: { keys: [jwk] },
    clock,
  });
  const good = await new SignJWT(claims()).setProtectedHeader({ alg: "RS256", kid: "k1" })
    .sign(privateKey);
  assert.equal((await rsVerifier.verifyUser(good)).sub, USER);

  // An HS256 token whose HMAC key is the public key, as an attacker who knows it would make.
  const publicBytes = new TextEncoder().encode(JSON.stringify(jwk));
  const confused = await new SignJWT(claims()).setProtectedHeader({ alg: "HS256", kid: "k1" })
    .sign(publicBytes);
  await rejectsUser(confused, rsVerifier);

  const other = await generateKeyPair("RS256");
  const foreign = await new SignJWT(claims()).setProtectedHeader({ alg: "RS256", kid: "k1" })
    .sign(other.privateKey);
  await rejectsUser(foreign, rsVerifier);

  // Without an HS256 secret configured, HS256 tokens have no key at all.
  const onlyJwks = createTokenVerifier({ supabaseUrl: SUPABASE_URL, jwks: { keys: [jwk] }, clock });
  await rejectsUser(await sign(claims()), onlyJwks);
});

Deno.test("the remote JWKS is fetched from the project and cached", async () => {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: "remote", alg: "ES256", use: "sig" };
  let fetches = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    assert.equal(new URL(request.url).pathname, "/auth/v1/.well-known/jwks.json");
    fetches++;
    return Response.json({ keys: [jwk] });
  });
  try {
    const url = `http://127.0.0.1:${server.addr.port}`;
    const remote = createTokenVerifier({ supabaseUrl: url, clock });
    const token = await new SignJWT(claims({ iss: `${url}/auth/v1` }))
      .setProtectedHeader({ alg: "ES256", kid: "remote" }).sign(privateKey);
    assert.equal((await remote.verifyUser(token)).sub, USER);
    assert.equal((await remote.verifyUser(token)).sub, USER);
    assert.equal(fetches, 1);
  } finally {
    await server.shutdown();
  }
});

Deno.test("the service caller is a service_role token or the service role key", async () => {
  const serviceKey = "service-role-key-that-is-long-enough-1234567890";
  const service = createTokenVerifier({
    supabaseUrl: SUPABASE_URL,
    jwtSecret: SECRET,
    serviceRoleKey: serviceKey,
    remoteJwks: false,
    clock,
  });
  await service.verifyService(serviceKey);
  await service.verifyService(await sign({ role: "service_role", iss: "supabase", exp: now + 60 }));
  for (
    const token of [
      await sign(claims()),
      await sign({ role: "service_role", exp: now - 60 }),
      await sign(
        { role: "service_role", exp: now + 60 },
        "wrong-secret-wrong-secret-wrong-secret!!",
      ),
      serviceKey.slice(0, -1),
    ]
  ) {
    await assert.rejects(service.verifyService(token), HttpError);
  }
});

Deno.test("bearerToken requires the Bearer scheme", () => {
  const request = (authorization?: string) =>
    new Request("http://x/", { headers: authorization ? { authorization } : {} });
  assert.equal(bearerToken(request("Bearer abc.def.ghi")), "abc.def.ghi");
  for (const header of [undefined, "Basic abc", "Bearer", "abc.def.ghi", "Bearer a b"]) {
    assert.throws(() => bearerToken(request(header)), (error: unknown) => {
      assert.ok(error instanceof HttpError);
      assert.equal(error.status, 401);
      return true;
    });
  }
});
