/**
 * Rights follow proof: a watch link presented by a signed-in account binds that account to the
 * link's guardian (`resolveWatchLink` with `userId`, as `streams` and `livekit-token` call it), and
 * nothing else does. In process, on a fresh seeded database.
 */
import assert from "node:assert/strict";
import {
  DEMO_SESSION,
  PENDING_ROW,
  REVOKED_ROW,
  REVOKED_USER,
  STREAMER_A,
  STREAMER_B,
} from "../../dev/seed_ids.ts";
import { closeAllDatabases, getDatabase } from "../../shared/kernel/db.ts";
import { accountBesideLink } from "../../shared/guardians.ts";
import { createLinkSigner } from "../../shared/kernel/link.ts";
import { createTokenVerifier } from "../../shared/kernel/auth.ts";
import { resolveWatchLink } from "../../shared/watch_link.ts";
import { freshDatabase } from "../support/database.ts";
import { testSecret } from "../support/stack.ts";
import { TEST_SUPABASE_URL, userToken } from "../support/tokens.ts";

Deno.test("a watch link binds the signed-in account that presents it, and only that one", async () => {
  const fresh = await freshDatabase();
  await fresh.sql.end();
  const db = getDatabase(fresh.url, { max: fresh.kind === "pglite" ? 1 : 4 });
  const signer = createLinkSigner(testSecret());
  const boundTo = async (guardianId: string) =>
    (await db.sql<{ user_id: string | null }[]>`
      select user_id from public.guardians where id = ${guardianId}`)[0].user_id;
  try {
    // The seed's pending guardian confirms by link alone (as guardian-consent does).
    await db.sql`select * from private.guardian_consent(p_guardian_id => ${PENDING_ROW},
                   p_user_id => null, p_now => now())`;
    const watch = await signer.sign({
      type: "watch",
      guardianId: PENDING_ROW,
      objectId: DEMO_SESSION,
    });

    const anonymous = await resolveWatchLink(db, { signer, token: watch });
    assert.equal(anonymous.bound, false);
    assert.equal(await boundTo(PENDING_ROW), null, "a link alone binds nothing");

    const streamer = await resolveWatchLink(db, { signer, token: watch, userId: STREAMER_A });
    assert.equal(streamer.bound, false, "the child is never its own guardian");

    const first = await resolveWatchLink(db, { signer, token: watch, userId: REVOKED_USER });
    assert.equal(first.bound, true);
    assert.equal(await boundTo(PENDING_ROW), REVOKED_USER);

    const second = await resolveWatchLink(db, { signer, token: watch, userId: STREAMER_B });
    assert.equal(second.bound, false, "a forwarded link takes no binding over");
    assert.equal(await boundTo(PENDING_ROW), REVOKED_USER);

    // A revoked guardian's watch link opens nothing and binds no one.
    const revoked = await signer.sign({
      type: "watch",
      guardianId: REVOKED_ROW,
      objectId: DEMO_SESSION,
    });
    await assert.rejects(
      resolveWatchLink(db, { signer, token: revoked, userId: STREAMER_B }),
      (error: { code?: string }) => error.code === "invalid_link",
    );
  } finally {
    await closeAllDatabases();
    await fresh.close();
  }
});

Deno.test("the account beside a link is verified: a bad token is 401, an anonymous one 403", async () => {
  const secret = testSecret();
  const verifier = createTokenVerifier({
    supabaseUrl: TEST_SUPABASE_URL,
    jwtSecret: secret,
    remoteJwks: false,
  });
  const request = (authorization?: string) =>
    new Request("http://127.0.0.1/functions/v1/guardian-consent", {
      method: "POST",
      headers: authorization ? { authorization } : {},
    });
  assert.equal(await accountBesideLink(request(), verifier), undefined);
  const user = await accountBesideLink(
    request(`Bearer ${await userToken(secret, STREAMER_B)}`),
    verifier,
  );
  assert.equal(user?.sub, STREAMER_B);
  await assert.rejects(
    accountBesideLink(request("Bearer not-a-token"), verifier),
    (error: { status?: number }) => error.status === 401,
  );
  const anonymous = await userToken(secret, STREAMER_B, { is_anonymous: true });
  await assert.rejects(
    accountBesideLink(request(`Bearer ${anonymous}`), verifier),
    (error: { status?: number }) => error.status === 403,
  );
});
