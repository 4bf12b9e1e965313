/**
 * Rights follow proof (API.md, "Who may see a child"): a watch link presented together with
 * the signed-in account's bearer token binds that account to the link's guardian, through
 * `livekit-token` and `streams` alike; a link alone binds nothing, and an account that merely
 * exists sees nothing of the child until it has presented its own link.
 */
import assert from "node:assert/strict";
import { STREAMER_A } from "../../dev/seed_ids.ts";
import { createLinkSigner } from "../../shared/kernel/link.ts";
import { apiClient } from "../support/api.ts";
import { startLiveKitDouble } from "../support/livekit_double.ts";
import { startServer } from "../support/stack.ts";
import { userToken } from "../support/tokens.ts";

const SESSION = "c4000000-0000-4000-8000-0000000000b1";
const AUNT_ROW = "a0000000-0000-4000-8000-0000000000b1";
const AUNT_USER = "a1000000-0000-4000-8000-0000000000b1";
const UNCLE_ROW = "a0000000-0000-4000-8000-0000000000b2";
const UNCLE_USER = "a1000000-0000-4000-8000-0000000000b2";

Deno.test("a watch link binds the signed-in account that presents it, by either door", async (t) => {
  const livekit = startLiveKitDouble();
  const server = await startServer({ env: livekit.env });
  const api = apiClient(server.url);
  const secret = server.env.SUPABASE_JWT_SECRET;
  const signer = createLinkSigner(server.env.LINK_SIGNING_SECRET);
  try {
    // Two active viewer guardians of streamer A, neither bound to an account yet, each with an
    // account of its own address; and a live session of streamer A.
    await server.sql`
      insert into auth.users (id, email, email_confirmed_at)
      values (${AUNT_USER}, 'aunt@example.test', now()),
             (${UNCLE_USER}, 'uncle@example.test', now())`;
    await server.sql`
      insert into public.guardians (id, streamer_id, email, role, status, confirmed_at)
      values (${AUNT_ROW}, ${STREAMER_A}, 'aunt@example.test', 'viewer', 'active', now()),
             (${UNCLE_ROW}, ${STREAMER_A}, 'uncle@example.test', 'viewer', 'active', now())`;
    await server.sql`
      insert into public.stream_sessions (id, streamer_id, status, room_name, record, started_at)
      values (${SESSION}, ${STREAMER_A}, 'live', ${`session-${SESSION}`}, false, now())`;
    const aunt = await userToken(secret, AUNT_USER);
    const uncle = await userToken(secret, UNCLE_USER);
    const watchLink = (guardianId: string) =>
      signer.sign({ type: "watch", guardianId, objectId: SESSION });

    await t.step(
      "an account with a guardian's email sees nothing before it shows a link",
      async () => {
        const list = await api.get("streams", { token: aunt });
        assert.equal(list.status, 200);
        assert.deepEqual(list.body.streams, []);
        const byId = await api.get(`streams?sessionId=${SESSION}`, {
          token: aunt,
        });
        assert.equal(byId.status, 404);
      },
    );

    await t.step("a link alone binds nothing", async () => {
      const response = await api.post("livekit-token", {}, {
        headers: { "x-link-token": await watchLink(AUNT_ROW) },
      });
      assert.equal(response.status, 200, JSON.stringify(response.body));
      const [row] = await server
        .sql`select user_id from public.guardians where id = ${AUNT_ROW}`;
      assert.equal(row.user_id, null);
    });

    await t.step(
      "livekit-token with the bearer and the link binds the account",
      async () => {
        const response = await api.post("livekit-token", {}, {
          token: aunt,
          headers: { "x-link-token": await watchLink(AUNT_ROW) },
        });
        assert.equal(response.status, 200, JSON.stringify(response.body));
        assert.equal(response.body.livekit.identity, `guardian:${AUNT_ROW}`);
        const list = await api.get("streams", { token: aunt });
        assert.deepEqual(list.body.streams.map((s: { id: string }) => s.id), [
          SESSION,
        ]);
      },
    );

    await t.step(
      "streams with the bearer and the link binds the account too",
      async () => {
        const response = await api.get("streams", {
          token: uncle,
          headers: { "x-link-token": await watchLink(UNCLE_ROW) },
        });
        assert.equal(response.status, 200, JSON.stringify(response.body));
        const list = await api.get("streams", { token: uncle });
        assert.deepEqual(list.body.streams.map((s: { id: string }) => s.id), [
          SESSION,
        ]);
      },
    );

    await t.step(
      "another guardian's link binds nobody else to it",
      async () => {
        const response = await api.get("streams", {
          token: uncle,
          headers: { "x-link-token": await watchLink(AUNT_ROW) },
        });
        assert.equal(response.status, 200);
        const [row] = await server
          .sql`select user_id from public.guardians where id = ${AUNT_ROW}`;
        assert.equal(row.user_id, AUNT_USER);
      },
    );
  } finally {
    await server.stop();
    await livekit.close();
  }
});
