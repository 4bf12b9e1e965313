/**
 * livekit-webhook removes a guardian's connection that joins a streamer's room while that
 * guardian is not active there (revoked after its grant was issued: LiveKit checks a grant only
 * at join), and leaves active guardians and the streamer alone. The real-server version of this
 * is in `tests/browser/watch_safety_browser.ts`.
 */
import assert from "node:assert/strict";
import { GUARDIAN_A_ROW, REVOKED_ROW, STREAMER_A, STREAMER_B } from "../../dev/seed_ids.ts";
import { apiClient } from "../support/api.ts";
import { startLiveKitDouble } from "../support/livekit_double.ts";
import { startServer } from "../support/stack.ts";
import { userToken } from "../support/tokens.ts";
import { signEvent } from "../support/webhook_events.ts";

Deno.test("a revoked guardian that joins with its last grant is removed at once", async (t) => {
  const livekit = startLiveKitDouble();
  const server = await startServer({ env: livekit.env });
  const api = apiClient(server.url);
  let sequence = 0;
  async function joined(roomName: string, identity: string) {
    const delivery = await signEvent(
      {
        id: `EV_revoked_viewer_${++sequence}`,
        event: "participant_joined",
        createdAt: String(Math.floor(Date.now() / 1000)),
        room: { name: roomName, sid: "RM_1" },
        participant: { sid: `PA_${sequence}`, identity },
      },
      livekit.apiKey,
      livekit.apiSecret,
    );
    const response = await fetch(`${server.url}/functions/v1/livekit-webhook`, {
      method: "POST",
      headers: {
        "content-type": "application/webhook+json",
        authorization: delivery.authorization,
      },
      body: delivery.body,
    });
    return { status: response.status, body: await response.json(), delivery };
  }
  const removals = () =>
    livekit.calls.filter((call) => call.method === "RemoveParticipant").map((call) => call.body);
  try {
    const token = await userToken(server.env.SUPABASE_JWT_SECRET, STREAMER_A);
    const started = await api.post("start-session", { record: false }, { token });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    const room = started.body.session.roomName;

    await t.step("the streamer and an active guardian stay", async () => {
      assert.equal((await joined(room, `streamer:${STREAMER_A}`)).status, 200);
      assert.equal((await joined(room, `guardian:${GUARDIAN_A_ROW}`)).status, 200);
      assert.deepEqual(removals(), []);
    });

    await t.step("a revoked guardian is removed, and again on LiveKit's retry", async () => {
      const first = await joined(room, `guardian:${REVOKED_ROW}`);
      assert.equal(first.status, 200);
      assert.deepEqual(removals(), [{ room, identity: `guardian:${REVOKED_ROW}` }]);
      // A duplicate delivery (LiveKit retrying after a 503) asks LiveKit again.
      const response = await fetch(`${server.url}/functions/v1/livekit-webhook`, {
        method: "POST",
        headers: {
          "content-type": "application/webhook+json",
          authorization: first.delivery.authorization,
        },
        body: first.delivery.body,
      });
      assert.equal(response.status, 200);
      await response.body?.cancel();
      assert.equal(removals().length, 2);
    });

    await t.step("a LiveKit failure is a 503, so LiveKit retries", async () => {
      livekit.mode = "fail";
      const failed = await joined(room, `guardian:${REVOKED_ROW}`);
      livekit.mode = "ok";
      assert.equal(failed.status, 503, JSON.stringify(failed.body));
    });

    await t.step("another streamer's active guardian is not active in this room", async () => {
      // GUARDIAN_A_ROW is streamer A's; in a room of streamer B it has no right to be.
      const tokenB = await userToken(server.env.SUPABASE_JWT_SECRET, STREAMER_B);
      const startedB = await api.post("start-session", { record: false }, { token: tokenB });
      assert.equal(startedB.status, 201, JSON.stringify(startedB.body));
      const roomB = startedB.body.session.roomName;
      const before = removals().length;
      assert.equal((await joined(roomB, `guardian:${GUARDIAN_A_ROW}`)).status, 200);
      assert.deepEqual(removals().slice(before), [
        { room: roomB, identity: `guardian:${GUARDIAN_A_ROW}` },
      ]);
    });
  } finally {
    await server.stop();
    await livekit.close();
  }
});
