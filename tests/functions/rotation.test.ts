/**
 * Rotation with overlap, through the real functions over HTTP: while
 * `LINK_SIGNING_SECRET_PREVIOUS` and `LIVEKIT_WEBHOOK_PREVIOUS_API_KEY`/`_SECRET` are set, a
 * link and a webhook signed with the previous secret are accepted (and the log says so, never
 * the value); once they are removed, the same link and webhook are refused.
 */
import assert from "node:assert/strict";
import { GUARDIAN_A_ROW, STREAMER_A } from "../../dev/seed_ids.ts";
import { createLinkSigner } from "../../shared/kernel/link.ts";
import { apiClient, assertError } from "../support/api.ts";
import { startLiveKitDouble } from "../support/livekit_double.ts";
import { startServer, type TestServer } from "../support/stack.ts";
import { userToken } from "../support/tokens.ts";
import { signEvent } from "../support/webhook_events.ts";

const OLD_LINK_SECRET = "old-link-signing-secret-rotated-out-of-service";
const NEW_LINK_SECRET = "new-link-signing-secret-now-signing-every-link";
const OLD_LIVEKIT = {
  apiKey: "APIoldkeypair",
  apiSecret: "old-livekit-api-secret-still-signing-webhooks",
};

async function postWebhook(url: string, delivery: { body: string; authorization: string }) {
  const response = await fetch(`${url}/functions/v1/livekit-webhook`, {
    method: "POST",
    headers: {
      "content-type": "application/webhook+json",
      authorization: delivery.authorization,
    },
    body: delivery.body,
  });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

/** A preferences link of the seeded primary guardian, signed with `secret`. */
function preferencesLink(secret: string): Promise<string> {
  return createLinkSigner(secret).sign({
    type: "preferences",
    guardianId: GUARDIAN_A_ROW,
    objectId: GUARDIAN_A_ROW,
  });
}

/** The streamer's new session and a `participant_joined` of theirs signed with `pair`. */
async function streamerJoins(
  server: TestServer,
  pair: { apiKey: string; apiSecret: string },
  eventId: string,
) {
  const api = apiClient(server.url);
  const token = await userToken(server.env.SUPABASE_JWT_SECRET, STREAMER_A);
  const started = await api.post("start-session", {}, { token });
  assert.equal(started.status, 201, JSON.stringify(started.body));
  const { session } = started.body;
  const delivery = await signEvent(
    {
      id: eventId,
      event: "participant_joined",
      createdAt: String(Math.floor(Date.now() / 1000)),
      room: { name: session.roomName, sid: `RM_${eventId}` },
      participant: { sid: `PA_${eventId}`, identity: `streamer:${STREAMER_A}` },
    },
    pair.apiKey,
    pair.apiSecret,
  );
  const status = async () =>
    (await api.get(`streams?sessionId=${session.id}`, { token })).body.session.status;
  const end = async () =>
    assert.equal((await api.post("end-session", { sessionId: session.id }, { token })).status, 200);
  return { delivery, status, end };
}

function assertNoSecretIn(output: string) {
  for (const secret of [OLD_LINK_SECRET, NEW_LINK_SECRET, OLD_LIVEKIT.apiSecret]) {
    assert.ok(!output.includes(secret), "a secret value reached the logs");
  }
}

Deno.test("a link and a webhook signed with the previous secret work while it is configured", async (t) => {
  const livekit = startLiveKitDouble();
  const server = await startServer({
    env: {
      ...livekit.env,
      LINK_SIGNING_SECRET: NEW_LINK_SECRET,
      LINK_SIGNING_SECRET_PREVIOUS: OLD_LINK_SECRET,
      LIVEKIT_WEBHOOK_PREVIOUS_API_KEY: OLD_LIVEKIT.apiKey,
      LIVEKIT_WEBHOOK_PREVIOUS_API_SECRET: OLD_LIVEKIT.apiSecret,
    },
  });
  const api = apiClient(server.url);
  try {
    await t.step("a link signed with the previous secret opens, and the log says so", async () => {
      const link = await preferencesLink(OLD_LINK_SECRET);
      const response = await api.get("notification-preferences", {
        headers: { "x-link-token": link },
      });
      assert.equal(response.status, 200, JSON.stringify(response.body));
      assert.equal(response.body.guardian.id, GUARDIAN_A_ROW);
      const { stdout } = server.output();
      assert.match(stdout, /link accepted with LINK_SIGNING_SECRET_PREVIOUS/);
      assertNoSecretIn(stdout + server.output().stderr);
    });

    await t.step("a link signed with the current secret opens too", async () => {
      const link = await preferencesLink(NEW_LINK_SECRET);
      const response = await api.get("notification-preferences", {
        headers: { "x-link-token": link },
      });
      assert.equal(response.status, 200);
    });

    await t.step("a link signed with any other secret is still 401 invalid_link", async () => {
      const link = await preferencesLink("a-secret-that-was-never-configured-here");
      assertError(
        await api.get("notification-preferences", { headers: { "x-link-token": link } }),
        401,
        "invalid_link",
      );
    });

    await t.step(
      "a webhook signed with the previous key pair applies, and the log says so",
      async () => {
        const joins = await streamerJoins(server, OLD_LIVEKIT, "EV_rotation_old_1");
        const response = await postWebhook(server.url, joins.delivery);
        assert.equal(response.status, 200, JSON.stringify(response.body));
        assert.equal(await joins.status(), "live");
        const { stdout, stderr } = server.output();
        assert.match(stdout, /webhook verified with the previous LiveKit key pair/);
        assertNoSecretIn(stdout + stderr);
        await joins.end();
      },
    );

    await t.step("the previous key name with a wrong secret is 401 invalid_signature", async () => {
      const joins = await streamerJoins(server, {
        apiKey: OLD_LIVEKIT.apiKey,
        apiSecret: "not-the-previous-secret-but-long-enough-to-sign",
      }, "EV_rotation_forged_1");
      assertError(await postWebhook(server.url, joins.delivery), 401, "invalid_signature");
      assert.equal(await joins.status(), "starting");
    });
  } finally {
    await server.stop();
    await livekit.close();
  }
});

Deno.test("once the previous secrets are removed, the same link and webhook are refused", async (t) => {
  const livekit = startLiveKitDouble();
  const server = await startServer({
    env: { ...livekit.env, LINK_SIGNING_SECRET: NEW_LINK_SECRET },
  });
  const api = apiClient(server.url);
  try {
    await t.step("a link signed with the previous secret is 401 invalid_link", async () => {
      const link = await preferencesLink(OLD_LINK_SECRET);
      assertError(
        await api.get("notification-preferences", { headers: { "x-link-token": link } }),
        401,
        "invalid_link",
      );
      const current = await preferencesLink(NEW_LINK_SECRET);
      const response = await api.get("notification-preferences", {
        headers: { "x-link-token": current },
      });
      assert.equal(response.status, 200);
    });

    await t.step(
      "a webhook signed with the previous key pair is 401 and applies nothing",
      async () => {
        const joins = await streamerJoins(server, OLD_LIVEKIT, "EV_rotation_old_2");
        assertError(await postWebhook(server.url, joins.delivery), 401, "invalid_signature");
        assert.equal(await joins.status(), "starting");
        assert.doesNotMatch(server.output().stdout, /PREVIOUS/);
      },
    );
  } finally {
    await server.stop();
    await livekit.close();
  }
});
