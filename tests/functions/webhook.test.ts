/**
 * livekit-webhook over HTTP through the local server: verification first (nothing written
 * on a bad signature), duplicates and ignored events acknowledged, a failure on our side noted
 * in the ledger and applied on retry, malformed signed bodies refused; and in process, a
 * database outage answered with 503 so LiveKit retries.
 */
import assert from "node:assert/strict";
import { STREAMER_A } from "../../dev/seed_ids.ts";
import { createWebhookHandler } from "../../supabase/functions/livekit-webhook/handler.ts";
import { closeAllDatabases, getDatabase } from "../../shared/kernel/db.ts";
import { apiClient, assertError } from "../support/api.ts";
import { startLiveKitDouble } from "../support/livekit_double.ts";
import { startServer } from "../support/stack.ts";
import { userToken } from "../support/tokens.ts";
import { signBody, signEvent } from "../support/webhook_events.ts";
import { unusedPort } from "../support/net.ts";

async function post(url: string, body: string, authorization?: string) {
  const response = await fetch(`${url}/functions/v1/livekit-webhook`, {
    method: "POST",
    headers: {
      "content-type": "application/webhook+json",
      ...(authorization ? { authorization } : {}),
    },
    body,
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: JSON.parse(text) };
}

Deno.test("livekit-webhook verifies, applies once, and acknowledges what it ignores", async (t) => {
  const livekit = startLiveKitDouble();
  const server = await startServer({
    env: {
      ...livekit.env,
    },
  });
  const api = apiClient(server.url);
  const token = await userToken(server.env.SUPABASE_JWT_SECRET, STREAMER_A);
  try {
    const { session } = (await api.post("start-session", {}, { token })).body;
    const joined = {
      id: "EV_join_1",
      event: "participant_joined",
      createdAt: String(Math.floor(Date.now() / 1000)),
      room: { name: session.roomName, sid: "RM_1" },
      participant: { sid: "PA_1", identity: `streamer:${STREAMER_A}` },
    };
    const signed = await signEvent(joined, livekit.apiKey, livekit.apiSecret);

    await t.step(
      "a missing, bare-invalid or foreign signature is 401 and writes nothing",
      async () => {
        assertError(await post(server.url, signed.body), 401, "invalid_signature");
        assertError(await post(server.url, signed.body, "Bearer x.y.z"), 401, "invalid_signature");
        const foreign = await signEvent(
          joined,
          livekit.apiKey,
          "another-secret-another-secret-123",
        );
        assertError(
          await post(server.url, signed.body, foreign.authorization),
          401,
          "invalid_signature",
        );
        const tampered = signed.body.replace("PA_1", "PA_2");
        assertError(
          await post(server.url, tampered, signed.authorization),
          401,
          "invalid_signature",
        );
        const view = await api.get(`streams?sessionId=${session.id}`, { token });
        assert.equal(view.body.session.status, "starting");
      },
    );

    await t.step("a valid event applies: the session goes live", async () => {
      const response = await post(server.url, signed.body, signed.authorization);
      assert.equal(response.status, 200);
      assert.deepEqual(response.body, { ok: true });
      const view = await api.get(`streams?sessionId=${session.id}`, { token });
      assert.equal(view.body.session.status, "live");
      assert.ok(view.body.session.startedAt);
    });

    await t.step("a duplicate is 200 and changes nothing", async () => {
      const before = (await api.get(`streams?sessionId=${session.id}`, { token })).body.session;
      const response = await post(server.url, signed.body, signed.authorization);
      assert.equal(response.status, 200);
      const after = (await api.get(`streams?sessionId=${session.id}`, { token })).body.session;
      assert.deepEqual(after, before);
    });

    await t.step(
      "an event that fails on our side is 500, noted as failed with its room, and applies on retry",
      async () => {
        // Any write to a recording fails, as a bug or a broken migration would make it.
        await server.sql`
          create function public.test_refuse_recordings() returns trigger language plpgsql
          as $$ begin raise exception 'simulated failure' using errcode = 'XX000'; end $$`;
        await server.sql`
          create trigger test_refuse_recordings before insert or update on public.recordings
          for each row execute function public.test_refuse_recordings()`;
        const started = {
          id: "EV_egress_1",
          event: "egress_started",
          createdAt: String(Math.floor(Date.now() / 1000)),
          egressInfo: {
            egressId: "EG_retry_1",
            roomName: session.roomName,
            status: "EGRESS_ACTIVE",
            startedAt: String(BigInt(Date.now()) * 1_000_000n),
          },
        };
        const delivery = await signEvent(started, livekit.apiKey, livekit.apiSecret);
        const ledger = () =>
          server.sql`
            select outcome, room_name, error from webhook_events where id = ${started.id}`;
        const recording = () =>
          server.sql`
            select status from recordings where session_id = ${session.id}
               and egress_id = ${started.egressInfo.egressId}`;

        assertError(
          await post(server.url, delivery.body, delivery.authorization),
          500,
          "internal_error",
        );
        const [failed] = await ledger();
        assert.equal(failed.outcome, "failed");
        assert.equal(failed.room_name, session.roomName);
        assert.match(failed.error, /simulated failure/);
        assert.equal((await recording()).length, 0);

        await server.sql`drop trigger test_refuse_recordings on public.recordings`;
        const retried = await post(server.url, delivery.body, delivery.authorization);
        assert.equal(retried.status, 200);
        const [processed] = await ledger();
        assert.equal(processed.outcome, "processed");
        assert.equal(processed.error, null);
        assert.deepEqual([...await recording()], [{ status: "recording" }]);

        // Once processed, it is a duplicate like any other.
        assert.equal((await post(server.url, delivery.body, delivery.authorization)).status, 200);
        assert.equal((await ledger())[0].outcome, "processed");
      },
    );

    await t.step("unknown events and unknown rooms are acknowledged", async () => {
      for (
        const event of [
          { id: "EV_x1", event: "ingress_started", createdAt: "1" },
          { ...joined, id: "EV_x2", room: { name: "session-unknown" } },
          { id: "EV_x3", event: "something_new", createdAt: "1" },
        ]
      ) {
        const { body, authorization } = await signEvent(event, livekit.apiKey, livekit.apiSecret);
        assert.equal((await post(server.url, body, authorization)).status, 200);
      }
    });

    await t.step("a signed body that is not an event is 400", async () => {
      for (const body of ["not json", '{"event": 5, "id": "x"}', "{}"]) {
        const authorization = await signBody(body, livekit.apiKey, livekit.apiSecret);
        const response = await post(server.url, body, authorization);
        assert.equal(response.status, 400, `${body}: ${JSON.stringify(response.body)}`);
      }
      // The two unreadable ones are logged with their reason (the child's stdout may lag).
      const warned = () =>
        server.output().stdout.split("\n").filter((line) =>
          line.includes('"level":"warn"') && line.includes("signed body is not a LiveKit event")
        );
      for (let i = 0; i < 50 && warned().length < 2; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.equal(warned().length, 2, server.output().stdout.slice(-2000));
      assert.match(warned()[0], /"errorName":"SyntaxError"/);
    });

    await t.step("bodies over 1 MiB are 413, other methods 405", async () => {
      const big = JSON.stringify({ ...joined, pad: "x".repeat(1024 * 1024) });
      assertError(await post(server.url, big, signed.authorization), 413, "payload_too_large");
      const get = await fetch(`${server.url}/functions/v1/livekit-webhook`);
      await get.body?.cancel();
      assert.equal(get.status, 405);
    });
  } finally {
    await server.stop();
    await livekit.close();
  }
});

Deno.test("livekit-webhook answers 503 when the database is down, so LiveKit retries", async () => {
  const port = unusedPort();
  const secret = "a-livekit-api-secret-of-32-characters";
  const handler = createWebhookHandler({
    db: getDatabase(`postgres://postgres@127.0.0.1:${port}/none`, { max: 1 }),
    livekit: {
      url: "ws://x",
      httpUrl: "http://x",
      apiKey: "key",
      apiSecret: secret,
      timeoutSeconds: 1,
    },
    cors: { allowedOrigins: [] },
    clock: { now: () => new Date() },
    logSink: () => {},
  });
  try {
    const { body, authorization } = await signEvent(
      { id: "EV_1", event: "room_finished", createdAt: "1", room: { name: "session-x" } },
      "key",
      secret,
    );
    const response = await handler(
      new Request("http://127.0.0.1/functions/v1/livekit-webhook", {
        method: "POST",
        headers: { authorization },
        body,
      }),
    );
    const error = (await response.json()).error;
    assert.equal(response.status, 503);
    assert.equal(error.code, "database_unavailable");
  } finally {
    await closeAllDatabases();
  }
});
