/**
 * start-session, end-session, livekit-token and streams over HTTP through the local server,
 * with LiveKit's API played by the loopback double. Database state is checked through the
 * functions themselves, which also works on PGlite's single connection.
 */
import assert from "node:assert/strict";
import { TokenVerifier } from "livekit-server-sdk";
import {
  GUARDIAN_A_ROW,
  GUARDIAN_USER,
  REVOKED_ROW,
  REVOKED_USER,
  STREAMER_A,
  STREAMER_B,
} from "../../dev/seed_ids.ts";
import { createLinkSigner } from "../../shared/kernel/link.ts";
import { apiClient, assertError } from "../support/api.ts";
import { type LiveKitDouble, startLiveKitDouble } from "../support/livekit_double.ts";
import { makeServiceAccount } from "../support/service_account.ts";
import { startServer, type TestServer } from "../support/stack.ts";
import { userToken } from "../support/tokens.ts";

interface Harness {
  server: TestServer;
  livekit: LiveKitDouble;
  api: ReturnType<typeof apiClient>;
  tokens: { a: string; b: string; guardian: string; revoked: string };
  link(guardianId: string, sessionId: string): Promise<string>;
  stop(): Promise<void>;
}

async function harness(env: Record<string, string> = {}): Promise<Harness> {
  const livekit = startLiveKitDouble();
  const server = await startServer({
    env: {
      ...livekit.env,
      LIVEKIT_TIMEOUT_SECONDS: "1",
      ...env,
    },
  });
  const secret = server.env.SUPABASE_JWT_SECRET;
  const links = createLinkSigner(server.env.LINK_SIGNING_SECRET);
  return {
    server,
    livekit,
    api: apiClient(server.url),
    tokens: {
      a: await userToken(secret, STREAMER_A),
      b: await userToken(secret, STREAMER_B),
      guardian: await userToken(secret, GUARDIAN_USER),
      revoked: await userToken(secret, REVOKED_USER),
    },
    link: (guardianId, sessionId) => links.sign({ type: "watch", guardianId, objectId: sessionId }),
    async stop() {
      await server.stop();
      await livekit.close();
    },
  };
}

async function grantOf(livekit: LiveKitDouble, token: string) {
  return await new TokenVerifier(livekit.apiKey, livekit.apiSecret).verify(token);
}

Deno.test("start-session creates a recorded session, its room and a publisher grant", async () => {
  const account = await makeServiceAccount();
  const h = await harness({
    GCS_BUCKET: "recordings-bucket",
    GCS_CREDENTIALS: account.json,
    // LiveKit's egress has no storage of its own here: requests carry the credentials.
    EGRESS_STORAGE: "request",
    LIVEKIT_MAX_PARTICIPANTS: "12",
  });
  try {
    const started = await h.api.post("start-session", {
      title: "Beat Saber",
      client: { platform: "quest", appVersion: "1.0.0", device: "Quest 3" },
    }, { token: h.tokens.a });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    const { session, livekit } = started.body;
    assert.equal(session.streamerId, STREAMER_A);
    assert.equal(session.title, "Beat Saber");
    assert.equal(session.status, "starting");
    assert.equal(session.endReason, null);
    assert.deepEqual(session.viewers, { current: 0, peak: 0, total: 0 });
    assert.deepEqual(session.recording, { enabled: true, status: "pending" });
    assert.equal(livekit.roomName, session.roomName);
    assert.equal(livekit.identity, `streamer:${STREAMER_A}`);
    assert.equal(livekit.canPublish, true);
    assert.equal(livekit.url, h.livekit.url);

    const claims = await grantOf(h.livekit, livekit.token);
    assert.equal(claims.sub, `streamer:${STREAMER_A}`);
    assert.deepEqual(claims.video, {
      room: session.roomName,
      roomJoin: true,
      canPublish: true,
      canPublishSources: ["camera", "microphone"],
      canSubscribe: false,
      canPublishData: false,
      canUpdateOwnMetadata: false,
    });
    const lifetime = claims.exp! - Math.floor(Date.now() / 1000);
    assert.ok(lifetime > 14 * 60 && lifetime <= 15 * 60, `lifetime ${lifetime}`);
    assert.ok(Math.abs(Date.parse(livekit.expiresAt) - claims.exp! * 1000) < 5000);

    const [create] = h.livekit.calls.filter((call) => call.method === "CreateRoom");
    assert.equal(create.body.name, session.roomName);
    assert.equal(create.body.emptyTimeout, 600);
    assert.equal(create.body.departureTimeout, 120);
    assert.equal(create.body.maxParticipants, 12);
    assert.deepEqual(JSON.parse(String(create.body.metadata)), { sessionId: session.id });
    // deno-lint-ignore no-explicit-any
    const auto = (create.body.egress as any).participant;
    assert.equal(auto.preset, "H264_1080P_30");
    const [file] = auto.fileOutputs;
    assert.equal(file.fileType, "MP4");
    assert.ok(file.filepath.startsWith(`recordings/${STREAMER_A}/${session.id}/`), file.filepath);
    assert.equal(file.gcp.bucket, "recordings-bucket");
    assert.equal(JSON.parse(file.gcp.credentials).client_email, account.clientEmail);

    const everything = JSON.stringify(started.body) + JSON.stringify(claims);
    assert.ok(!everything.includes("PRIVATE KEY"), "credentials reached the client");
    assert.ok(!everything.includes(account.clientEmail), "credentials reached the client");

    const detail = await h.api.get(`streams?sessionId=${session.id}`, { token: h.tokens.a });
    assert.equal(detail.status, 200);
    assert.equal(detail.body.recordings.length, 1);
    assert.equal(detail.body.recordings[0].source, "egress");
    assert.equal(detail.body.recordings[0].status, "pending");
  } finally {
    await h.stop();
  }
});

Deno.test("start-session without storage, replays, conflicts and concurrency", async (t) => {
  const h = await harness();
  try {
    let sessionId = "";
    await t.step("an unrecorded session when storage is not configured", async () => {
      const started = await h.api.post("start-session", { record: true }, {
        token: h.tokens.b,
        headers: { "idempotency-key": "key-0001-abc" },
      });
      assert.equal(started.status, 201);
      assert.deepEqual(started.body.session.recording, { enabled: false, status: null });
      assert.equal(
        h.livekit.calls.find((call) => call.method === "CreateRoom")?.body.egress,
        undefined,
      );
      sessionId = started.body.session.id;
    });

    await t.step("a replay with the same key returns the same session with 200", async () => {
      const again = await h.api.post("start-session", { record: true }, {
        token: h.tokens.b,
        headers: { "idempotency-key": "key-0001-abc" },
      });
      assert.equal(again.status, 200);
      assert.equal(again.body.session.id, sessionId);
      assert.equal(again.body.livekit.identity, `streamer:${STREAMER_B}`);
    });

    await t.step("the same key with another body is 409 idempotency_key_reused", async () => {
      const reused = await h.api.post("start-session", { title: "other" }, {
        token: h.tokens.b,
        headers: { "idempotency-key": "key-0001-abc" },
      });
      assertError(reused, 409, "idempotency_key_reused");
    });

    await t.step("a second session is 409 session_already_live with its id", async () => {
      const second = await h.api.post("start-session", {}, { token: h.tokens.b });
      const error = assertError(second, 409, "session_already_live");
      assert.deepEqual(error.details, { sessionId });
    });

    await t.step("concurrent starts by one streamer: exactly one wins", async () => {
      const results = await Promise.all(
        Array.from({ length: 6 }, () => h.api.post("start-session", {}, { token: h.tokens.a })),
      );
      const statuses = results.map((result) => result.status).sort();
      assert.deepEqual(statuses, [201, 409, 409, 409, 409, 409]);
      const list = await h.api.get("streams", { token: h.tokens.a });
      assert.equal(list.body.streams.length, 1);
    });
  } finally {
    await h.stop();
  }
});

Deno.test("start-session leaves nothing behind when LiveKit fails or hangs", async (t) => {
  const h = await harness();
  try {
    for (const mode of ["fail", "hang"] as const) {
      await t.step(`LiveKit ${mode}s: 503 livekit_unavailable`, async () => {
        h.livekit.mode = mode;
        const started = performance.now();
        const response = await h.api.post("start-session", {}, {
          token: h.tokens.a,
          headers: { "idempotency-key": `key-${mode}-0001` },
        });
        assertError(response, 503, "livekit_unavailable");
        assert.ok(performance.now() - started < 4000, "the LiveKit timeout did not bound it");
        const list = await h.api.get("streams", { token: h.tokens.a });
        assert.deepEqual(list.body.streams, []);
      });
    }
    await t.step("after LiveKit recovers the same key starts a session", async () => {
      h.livekit.mode = "ok";
      const response = await h.api.post("start-session", {}, {
        token: h.tokens.a,
        headers: { "idempotency-key": "key-fail-0001" },
      });
      assert.equal(response.status, 201);
    });
  } finally {
    await h.stop();
  }
});

Deno.test("livekit-token, streams and end-session for owner, guardian, link and strangers", async (t) => {
  const h = await harness();
  try {
    const started = await h.api.post("start-session", { title: "Live" }, { token: h.tokens.a });
    const session = started.body.session;

    await t.step("the owner refreshes a publisher grant", async () => {
      const response = await h.api.post("livekit-token", { sessionId: session.id }, {
        token: h.tokens.a,
      });
      assert.equal(response.status, 200);
      assert.equal(response.body.livekit.canPublish, true);
      assert.equal(response.body.session.id, session.id);
      const claims = await grantOf(h.livekit, response.body.livekit.token);
      assert.equal(claims.video?.canPublish, true);
    });

    await t.step("an active guardian with an account gets subscribe-only", async () => {
      const first = await h.api.post("livekit-token", { sessionId: session.id }, {
        token: h.tokens.guardian,
      });
      const second = await h.api.post("livekit-token", { sessionId: session.id }, {
        token: h.tokens.guardian,
      });
      assert.equal(first.status, 200);
      assert.equal(first.body.livekit.canPublish, false);
      // One identity per guardian, so LiveKit keeps one connection of theirs at a time.
      assert.equal(first.body.livekit.identity, `guardian:${GUARDIAN_A_ROW}`);
      assert.equal(second.body.livekit.identity, first.body.livekit.identity);
      const claims = await grantOf(h.livekit, first.body.livekit.token);
      assert.deepEqual(claims.video, {
        room: session.roomName,
        roomJoin: true,
        canPublish: false,
        canPublishSources: [],
        canSubscribe: true,
        canPublishData: false,
        canUpdateOwnMetadata: false,
      });
      assert.ok(claims.name);
    });

    await t.step("a watch link gets subscribe-only, from the header or the body", async () => {
      const link = await h.link(GUARDIAN_A_ROW, session.id);
      const byHeader = await h.api.post("livekit-token", {}, { headers: { "x-link-token": link } });
      assert.equal(byHeader.status, 200);
      assert.equal(byHeader.body.livekit.canPublish, false);
      const byBody = await h.api.post("livekit-token", { link });
      assert.equal(byBody.status, 200);
      const view = await h.api.get(`streams?link=${encodeURIComponent(link)}`);
      assert.equal(view.status, 200);
      assert.equal(view.body.session.id, session.id);
      assert.ok(Array.isArray(view.body.recordings));
    });

    await t.step("a revoked guardian's link and a tampered link are 401 invalid_link", async () => {
      const revoked = await h.link(REVOKED_ROW, session.id);
      assertError(await h.api.post("livekit-token", { link: revoked }), 401, "invalid_link");
      const good = await h.link(GUARDIAN_A_ROW, session.id);
      const tampered = good.slice(0, -3) + (good.endsWith("AAA") ? "BBB" : "AAA");
      assertError(await h.api.post("livekit-token", { link: tampered }), 401, "invalid_link");
      assertError(await h.api.get(`streams?link=${revoked}`), 401, "invalid_link");
    });

    await t.step("strangers and revoked guardians see nothing: 404", async () => {
      for (const token of [h.tokens.b, h.tokens.revoked]) {
        assertError(
          await h.api.post("livekit-token", { sessionId: session.id }, { token }),
          404,
          "not_found",
        );
        assertError(
          await h.api.get(`streams?sessionId=${session.id}`, { token }),
          404,
          "not_found",
        );
        const list = await h.api.get("streams", { token });
        assert.deepEqual(list.body.streams, []);
      }
    });

    await t.step("streams lists the session for the owner and the guardian", async () => {
      for (const token of [h.tokens.a, h.tokens.guardian]) {
        const list = await h.api.get("streams", { token });
        assert.equal(list.status, 200);
        assert.deepEqual(list.body.streams.map((s: { id: string }) => s.id), [session.id]);
      }
    });

    await t.step("no credentials: 401 unauthorized", async () => {
      assertError(
        await h.api.post("livekit-token", { sessionId: session.id }),
        401,
        "unauthorized",
      );
      assertError(await h.api.get("streams"), 401, "unauthorized");
      assertError(await h.api.post("end-session", { sessionId: session.id }), 401, "unauthorized");
    });

    await t.step("end-session: a guardian is 403, a stranger 404", async () => {
      assertError(
        await h.api.post("end-session", { sessionId: session.id }, { token: h.tokens.guardian }),
        403,
        "forbidden",
      );
      assertError(
        await h.api.post("end-session", { sessionId: session.id }, { token: h.tokens.b }),
        404,
        "not_found",
      );
    });

    await t.step("the owner ends it, idempotently, and the room is deleted", async () => {
      const ended = await h.api.post("end-session", { sessionId: session.id }, {
        token: h.tokens.a,
      });
      assert.equal(ended.status, 200);
      assert.equal(ended.body.session.status, "ended");
      assert.equal(ended.body.session.endReason, "streamer_ended");
      assert.ok(ended.body.session.endedAt);
      assert.equal(ended.body.session.durationSeconds, null, "never live, so no duration");
      assert.ok(!h.livekit.rooms.has(session.roomName));
      const again = await h.api.post("end-session", { sessionId: session.id }, {
        token: h.tokens.a,
      });
      assert.equal(again.status, 200);
      assert.equal(again.body.session.endedAt, ended.body.session.endedAt);
    });

    await t.step("an ended session is 409 session_ended for every grant", async () => {
      assertError(
        await h.api.post("livekit-token", { sessionId: session.id }, { token: h.tokens.a }),
        409,
        "session_ended",
      );
      const link = await h.link(GUARDIAN_A_ROW, session.id);
      assertError(await h.api.post("livekit-token", { link }), 409, "session_ended");
      const list = await h.api.get("streams", { token: h.tokens.a });
      assert.deepEqual(list.body.streams, []);
    });

    await t.step("with LiveKit down the session still ends", async () => {
      const next = await h.api.post("start-session", {}, { token: h.tokens.a });
      h.livekit.mode = "fail";
      const ended = await h.api.post("end-session", { sessionId: next.body.session.id }, {
        token: h.tokens.a,
      });
      h.livekit.mode = "ok";
      assert.equal(ended.status, 200);
      assert.equal(ended.body.session.status, "ended");
    });
  } finally {
    await h.stop();
  }
});

Deno.test("start-session allows 10 starts a minute per user, then 429 with Retry-After", async () => {
  const h = await harness();
  try {
    const statuses: number[] = [];
    let last;
    for (let i = 0; i < 11; i++) {
      last = await h.api.post("start-session", {}, { token: h.tokens.b });
      statuses.push(last.status);
    }
    assert.deepEqual(statuses.slice(0, 10), [201, 409, 409, 409, 409, 409, 409, 409, 409, 409]);
    assertError(last!, 429, "rate_limited");
    const retryAfter = Number(last!.headers.get("retry-after"));
    assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
    // Another user's budget is their own.
    assert.equal((await h.api.post("start-session", {}, { token: h.tokens.a })).status, 201);
  } finally {
    await h.stop();
  }
});
