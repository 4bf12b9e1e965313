/**
 * The session functions as an attacker meets them (issue 16, API.md "Who may see a child"):
 * idempotency keys that replay only the caller's own successes, publishing only in the
 * session's own room, one viewer identity per guardian with short grants and one rate-limit
 * bucket for both doors, and input that is refused with a 4xx before it reaches the database.
 * Fixtures are written as a superuser before the server takes requests (PGlite serves one
 * connection at a time).
 */
import assert from "node:assert/strict";
import { TokenVerifier } from "livekit-server-sdk";
import { GUARDIAN_A_ROW, GUARDIAN_USER, STREAMER_A, STREAMER_B } from "../../dev/seed_ids.ts";
import { createLinkSigner } from "../../shared/kernel/link.ts";
import { apiClient, assertError } from "../support/api.ts";
import { type LiveKitDouble, startLiveKitDouble } from "../support/livekit_double.ts";
import { startServer, type TestServer } from "../support/stack.ts";
import { userToken } from "../support/tokens.ts";

/** A live session of streamer A, written as start-session would have. */
const CHILD_SESSION = "c4000000-0000-4000-8000-000000000001";

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

async function grantOf(livekit: LiveKitDouble, token: string) {
  return await new TokenVerifier(livekit.apiKey, livekit.apiSecret).verify(token);
}

async function seedChildSession(server: TestServer): Promise<void> {
  await server.sql`
    insert into public.stream_sessions (id, streamer_id, title, status, room_name, record,
                                        started_at)
    values (${CHILD_SESSION}, ${STREAMER_A}, 'Child live', 'live', ${`session-${CHILD_SESSION}`},
            false, now())`;
}

Deno.test("start-session replays only a key the function wrote for the caller's own session", async (t) => {
  const livekit = startLiveKitDouble();
  const server = await startServer({ env: { ...livekit.env, LIVEKIT_TIMEOUT_SECONDS: "1" } });
  const api = apiClient(server.url);
  const secret = server.env.SUPABASE_JWT_SECRET;
  const guardian = await userToken(secret, GUARDIAN_USER);
  const streamerB = await userToken(secret, STREAMER_B);
  try {
    await seedChildSession(server);

    await t.step("the database refuses a key that points at someone else's session", async () => {
      await assert.rejects(
        server.sql`
          insert into public.idempotency_keys
            (user_id, operation, key, request_hash, expires_at, session_id)
          values (${GUARDIAN_USER}, 'start-session', 'planted-key-fk-01', 'x',
                  now() + interval '1 day', ${CHILD_SESSION})`,
        (error: { constraint_name?: string }) =>
          error.constraint_name === "idempotency_keys_session_owned_fkey",
      );
    });

    await t.step(
      "a key row planted as a superuser gives the guardian no publisher grant",
      async () => {
        // What the old replay trusted: the response's sessionId and a matching body hash.
        await server.sql`
        insert into public.idempotency_keys
          (user_id, operation, key, request_hash, status_code, response, expires_at)
        values (${GUARDIAN_USER}, 'start-session', 'planted-key-0001',
                ${await sha256(JSON.stringify({ record: true }))}, 201,
                ${server.sql.json({ sessionId: CHILD_SESSION })}, now() + interval '1 day')`;
        const response = await api.post("start-session", {}, {
          token: guardian,
          headers: { "idempotency-key": "planted-key-0001" },
        });
        assert.equal(response.status, 201, JSON.stringify(response.body));
        assert.notEqual(response.body.session.id, CHILD_SESSION);
        assert.equal(response.body.session.streamerId, GUARDIAN_USER);
        const own = `session-${response.body.session.id}`;
        assert.equal(response.body.livekit.roomName, own);
        const claims = await grantOf(livekit, response.body.livekit.token);
        assert.equal(claims.video?.room, own);
        assert.notEqual(claims.video?.room, `session-${CHILD_SESSION}`);

        const replay = await api.post("start-session", {}, {
          token: guardian,
          headers: { "idempotency-key": "planted-key-0001" },
        });
        assert.equal(replay.status, 200);
        assert.equal(replay.body.session.id, response.body.session.id);
        const ended = await api.post("end-session", { sessionId: response.body.session.id }, {
          token: guardian,
        });
        assert.equal(ended.status, 200);
      },
    );

    await t.step("a key that met 409 session_already_live can be used again", async () => {
      const first = await api.post("start-session", {}, {
        token: streamerB,
        headers: { "idempotency-key": "retry-key-0001" },
      });
      assert.equal(first.status, 201);
      const conflict = await api.post("start-session", { title: "Again" }, {
        token: streamerB,
        headers: { "idempotency-key": "retry-key-0002" },
      });
      assertError(conflict, 409, "session_already_live");
      await api.post("end-session", { sessionId: first.body.session.id }, { token: streamerB });
      const retried = await api.post("start-session", { title: "Again" }, {
        token: streamerB,
        headers: { "idempotency-key": "retry-key-0002" },
      });
      assert.equal(retried.status, 201, JSON.stringify(retried.body));
      assert.equal(retried.body.session.title, "Again");
      const replay = await api.post("start-session", { title: "Again" }, {
        token: streamerB,
        headers: { "idempotency-key": "retry-key-0002" },
      });
      assert.equal(replay.status, 200);
      assert.equal(replay.body.session.id, retried.body.session.id);
    });

    await t.step("a token whose sub is no user is 401, never a 500", async () => {
      const ghost = await userToken(secret, crypto.randomUUID());
      const headers = { "idempotency-key": "ghost-key-0001" };
      assertError(
        await api.post("start-session", {}, { token: ghost, headers }),
        401,
        "unauthorized",
      );
      assertError(
        await api.post("end-session", { sessionId: CHILD_SESSION }, { token: ghost }),
        401,
        "unauthorized",
      );
      assertError(
        await api.post("livekit-token", { sessionId: CHILD_SESSION }, { token: ghost }),
        401,
        "unauthorized",
      );
      // Reads too: an empty list or a 404 would pass a deleted account off as a real one.
      assertError(await api.get("streams", { token: ghost }), 401, "unauthorized");
      assertError(
        await api.get(`streams?sessionId=${CHILD_SESSION}`, { token: ghost }),
        401,
        "unauthorized",
      );
      assertError(await api.get("guardians", { token: ghost }), 401, "unauthorized");
    });

    await t.step("an anonymous user is 403 forbidden for every session operation", async () => {
      const anonymous = await userToken(secret, GUARDIAN_USER, { is_anonymous: true });
      assertError(await api.post("start-session", {}, { token: anonymous }), 403, "forbidden");
      assertError(
        await api.post("end-session", { sessionId: CHILD_SESSION }, { token: anonymous }),
        403,
        "forbidden",
      );
      assertError(
        await api.post("livekit-token", { sessionId: CHILD_SESSION }, { token: anonymous }),
        403,
        "forbidden",
      );
      assertError(await api.get("streams", { token: anonymous }), 403, "forbidden");
      assertError(
        await api.get(`streams?sessionId=${CHILD_SESSION}`, { token: anonymous }),
        403,
        "forbidden",
      );
    });
  } finally {
    await server.stop();
    await livekit.close();
  }
});

Deno.test("typed text refuses control, format and separator characters with 400", async (t) => {
  const livekit = startLiveKitDouble();
  const server = await startServer({ env: livekit.env });
  const api = apiClient(server.url);
  const token = await userToken(server.env.SUPABASE_JWT_SECRET, STREAMER_B);
  try {
    const bad: [string, Record<string, unknown>, string][] = [
      ["NUL in the title", { title: "Beat\u0000Saber" }, "title"],
      ["CR/LF in the title", { title: "Beat\r\nSubject: hi" }, "title"],
      ["a trailing LF in the title", { title: "Beat Saber\n" }, "title"],
      ["a bidi override in the title", { title: "Beat \u202Eaber" }, "title"],
      ["a zero-width space in the title", { title: "Beat\u200BSaber" }, "title"],
      ["a line separator in the title", { title: "Beat\u2028Saber" }, "title"],
      ["a paragraph separator in the title", { title: "Beat\u2029Saber" }, "title"],
      ["NUL in client.platform", { client: { platform: "quest\u0000" } }, "client.platform"],
      ["LF in client.appVersion", { client: { appVersion: "1.0\n2" } }, "client.appVersion"],
      ["a bidi isolate in client.device", { client: { device: "Quest\u2066 3" } }, "client.device"],
    ];
    for (const [name, body, path] of bad) {
      await t.step(`${name} is 400 invalid_request`, async () => {
        const error = assertError(
          await api.post("start-session", body, { token }),
          400,
          "invalid_request",
        );
        assert.deepEqual(error.details.map((detail: { path: string }) => detail.path), [path]);
      });
    }

    await t.step("printable Unicode and emoji are fine", async () => {
      const started = await api.post("start-session", {
        title: "Zoë spielt 🎮 Beat Saber",
        client: { platform: "quest", device: "Quest 3" },
      }, { token });
      assert.equal(started.status, 201, JSON.stringify(started.body));
      assert.equal(started.body.session.title, "Zoë spielt 🎮 Beat Saber");
    });

    await t.step("6,000 unknown fields get 20 details and a count of the rest", async () => {
      const body: Record<string, number> = {};
      for (let i = 0; i < 6000; i++) body[`f${i}`] = 0;
      const text = JSON.stringify(body);
      assert.ok(text.length < 64 * 1024);
      const response = await fetch(`${server.url}/functions/v1/livekit-token`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: text,
      });
      const answer = await response.text();
      assert.equal(response.status, 400);
      assert.ok(answer.length < 4096, `${answer.length} bytes`);
      const { error } = JSON.parse(answer);
      assert.equal(error.code, "invalid_request");
      assert.equal(error.details.length, 21);
      assert.deepEqual(error.details[0], { path: "f0", message: "Unknown field: f0" });
      assert.deepEqual(error.details[20], { path: "", message: "and 5980 more" });
    });
  } finally {
    await server.stop();
    await livekit.close();
  }
});

Deno.test("viewers are guardian:{id} by either door, for 5 minutes, in one rate-limit bucket", async (t) => {
  const livekit = startLiveKitDouble();
  const server = await startServer({ env: livekit.env });
  const api = apiClient(server.url);
  const secret = server.env.SUPABASE_JWT_SECRET;
  const guardian = await userToken(secret, GUARDIAN_USER);
  const owner = await userToken(secret, STREAMER_A);
  const link = await createLinkSigner(server.env.LINK_SIGNING_SECRET).sign({
    type: "watch",
    guardianId: GUARDIAN_A_ROW,
    objectId: CHILD_SESSION,
  });
  try {
    await seedChildSession(server);

    await t.step("the account and the link get the same identity, subscribe-only", async () => {
      const byAccount = await api.post("livekit-token", { sessionId: CHILD_SESSION }, {
        token: guardian,
      });
      const byLink = await api.post("livekit-token", {}, { headers: { "x-link-token": link } });
      for (const response of [byAccount, byLink]) {
        assert.equal(response.status, 200, JSON.stringify(response.body));
        assert.equal(response.body.livekit.identity, `guardian:${GUARDIAN_A_ROW}`);
        assert.equal(response.body.livekit.canPublish, false);
        assert.equal(response.body.livekit.roomName, `session-${CHILD_SESSION}`);
        const claims = await grantOf(livekit, response.body.livekit.token);
        assert.equal(claims.sub, `guardian:${GUARDIAN_A_ROW}`);
        assert.equal(claims.video?.canPublish, false);
        const lifetime = claims.exp! - Math.floor(Date.now() / 1000);
        assert.ok(lifetime > 4 * 60 && lifetime <= 5 * 60, `lifetime ${lifetime}`);
        assert.ok(
          Math.abs(Date.parse(response.body.livekit.expiresAt) - claims.exp! * 1000) < 5000,
        );
      }
    });

    await t.step("the owner's publisher grant is for the session's own room", async () => {
      const response = await api.post("livekit-token", { sessionId: CHILD_SESSION }, {
        token: owner,
      });
      assert.equal(response.status, 200);
      assert.equal(response.body.livekit.canPublish, true);
      const claims = await grantOf(livekit, response.body.livekit.token);
      assert.equal(claims.video?.room, `session-${CHILD_SESSION}`);
    });

    await t.step("account and link requests count together: 60 a minute, then 429", async () => {
      // Two requests were counted above; 58 more, alternating doors.
      for (let i = 0; i < 58; i++) {
        const response = i % 2 === 0
          ? await api.post("livekit-token", { sessionId: CHILD_SESSION }, { token: guardian })
          : await api.post("livekit-token", {}, { headers: { "x-link-token": link } });
        assert.equal(response.status, 200, `request ${i + 3}: ${JSON.stringify(response.body)}`);
      }
      const byLink = await api.post("livekit-token", {}, { headers: { "x-link-token": link } });
      assertError(byLink, 429, "rate_limited");
      assert.ok(Number(byLink.headers.get("retry-after")) >= 1);
      const byAccount = await api.post("livekit-token", { sessionId: CHILD_SESSION }, {
        token: guardian,
      });
      assertError(byAccount, 429, "rate_limited");
      // The owner's bucket is their own.
      const ownerGrant = await api.post("livekit-token", { sessionId: CHILD_SESSION }, {
        token: owner,
      });
      assert.equal(ownerGrant.status, 200);
    });

    await t.step("streams by link: 30 a minute per link, then 429 with Retry-After", async () => {
      for (let i = 0; i < 30; i++) {
        const response = await api.get("streams", { headers: { "x-link-token": link } });
        assert.equal(response.status, 200, `request ${i + 1}: ${JSON.stringify(response.body)}`);
      }
      const limited = await api.get("streams", { headers: { "x-link-token": link } });
      assertError(limited, 429, "rate_limited");
      assert.ok(Number(limited.headers.get("retry-after")) >= 1);
      // Signed in, the guardian is not limited by the link's bucket.
      const signedIn = await api.get(`streams?sessionId=${CHILD_SESSION}`, { token: guardian });
      assert.equal(signedIn.status, 200);
    });
  } finally {
    await server.stop();
    await livekit.close();
  }
});
