/**
 * guardians, guardian-consent and notification-preferences over HTTP through the local server:
 * the streamer's list, invitations and revocations with their limits, the access matrix, and
 * the consent and preferences flows driven by real link tokens signed with the server's secret.
 */
import assert from "node:assert/strict";
import {
  DEMO_SESSION,
  GUARDIAN_A_ROW,
  GUARDIAN_USER,
  PENDING_ROW,
  REVOKED_ROW,
  STREAMER_A,
  STREAMER_B,
} from "../../dev/seed_ids.ts";
import { fixedClock } from "../../shared/clock.ts";
import { createLinkSigner, type LinkType } from "../../shared/link.ts";
import { apiClient, assertError } from "../support/api.ts";
import { startServer, type TestServer } from "../support/stack.ts";
import { userToken } from "../support/tokens.ts";

interface Harness {
  server: TestServer;
  api: ReturnType<typeof apiClient>;
  tokens: { a: string; b: string; guardian: string };
  link(type: LinkType, guardianId: string, objectId?: string): Promise<string>;
  post(path: string, body: BodyInit, headers: Record<string, string>): Promise<Response>;
}

async function harness(): Promise<Harness> {
  const server = await startServer();
  const secret = server.env.SUPABASE_JWT_SECRET;
  const links = createLinkSigner(server.env.LINK_SIGNING_SECRET);
  return {
    server,
    api: apiClient(server.url),
    tokens: {
      a: await userToken(secret, STREAMER_A),
      b: await userToken(secret, STREAMER_B),
      guardian: await userToken(secret, GUARDIAN_USER),
    },
    link: (type, guardianId, objectId = guardianId) => links.sign({ type, guardianId, objectId }),
    post: (path, body, headers) =>
      fetch(`${server.url}/functions/v1/${path}`, { method: "POST", body, headers }),
  };
}

Deno.test("a streamer lists, invites and revokes guardians", async (t) => {
  const h = await harness();
  try {
    let added: { id: string };

    await t.step("the list shows every guardian of the streamer, newest first", async () => {
      const list = await h.api.get("guardians", { token: h.tokens.a });
      assert.equal(list.status, 200);
      assert.deepEqual(
        list.body.guardians.map((g: { id: string; status: string }) => [g.id, g.status]),
        [[PENDING_ROW, "pending"], [GUARDIAN_A_ROW, "active"], [REVOKED_ROW, "revoked"]],
      );
      assert.deepEqual(list.body.guardians[1], {
        id: GUARDIAN_A_ROW,
        email: "parent@example.test",
        name: "Parent",
        status: "active",
        notify: { streamStarted: true, streamEnded: false, recordingReady: true },
        createdAt: "2026-01-02T00:00:00.000Z",
      });
      const other = await h.api.get("guardians", { token: h.tokens.b });
      assert.deepEqual(other.body.guardians, []);
    });

    await t.step("an invitation is pending, normalised, with the default choices", async () => {
      const created = await h.api.post("guardians", {
        email: "  Grandma.Jo@Example.ORG ",
        name: "  Grandma Jo ",
      }, { token: h.tokens.a });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      added = created.body.guardian;
      assert.equal(created.body.guardian.email, "grandma.jo@example.org");
      assert.equal(created.body.guardian.name, "Grandma Jo");
      assert.equal(created.body.guardian.status, "pending");
      assert.deepEqual(created.body.guardian.notify, {
        streamStarted: true,
        streamEnded: false,
        recordingReady: true,
      });
      const list = await h.api.get("guardians", { token: h.tokens.a });
      assert.equal(list.body.guardians[0].id, added.id);
    });

    await t.step("choices can be given, and the name left out", async () => {
      const created = await h.api.post("guardians", {
        email: "uncle@example.org",
        notify: { streamStarted: false, streamEnded: true },
      }, { token: h.tokens.a });
      assert.equal(created.status, 201);
      assert.equal(created.body.guardian.name, null);
      assert.deepEqual(created.body.guardian.notify, {
        streamStarted: false,
        streamEnded: true,
        recordingReady: true,
      });
    });

    await t.step("the same address again, in any case, is 409 guardian_exists", async () => {
      for (
        const email of ["grandma.jo@example.org", "GRANDMA.JO@example.org ", "parent@example.test"]
      ) {
        assertError(
          await h.api.post("guardians", { email }, { token: h.tokens.a }),
          409,
          "guardian_exists",
        );
      }
      // Another streamer may invite the same person.
      const other = await h.api.post("guardians", { email: "grandma.jo@example.org" }, {
        token: h.tokens.b,
      });
      assert.equal(other.status, 201);
    });

    await t.step("a revoked guardian's address may be invited again", async () => {
      const again = await h.api.post("guardians", { email: "revoked-parent@example.test" }, {
        token: h.tokens.a,
      });
      assert.equal(again.status, 201);
      assert.notEqual(again.body.guardian.id, REVOKED_ROW);
    });

    await t.step("at most 10 pending or active guardians: then 409 guardian_limit", async () => {
      // A has 5 now (active, 4 pending).
      for (let i = 0; i < 5; i++) {
        const created = await h.api.post("guardians", { email: `kin-${i}@example.org` }, {
          token: h.tokens.a,
        });
        assert.equal(created.status, 201);
      }
      const over = await h.api.post("guardians", { email: "one-too-many@example.org" }, {
        token: h.tokens.a,
      });
      assertError(over, 409, "guardian_limit");
    });

    await t.step("revoking is final and idempotent, and frees a place", async () => {
      const revoked = await h.api.delete(`guardians?guardianId=${added.id}`, { token: h.tokens.a });
      assert.equal(revoked.status, 200);
      assert.equal(revoked.body.guardian.status, "revoked");
      const again = await h.api.delete(`guardians?guardianId=${added.id}`, { token: h.tokens.a });
      assert.equal(again.status, 200);
      assert.equal(again.body.guardian.status, "revoked");
      const next = await h.api.post("guardians", { email: "one-too-many@example.org" }, {
        token: h.tokens.a,
      });
      assert.equal(next.status, 201);
    });
  } finally {
    await h.server.stop();
  }
});

Deno.test("guardians: who may do what", async () => {
  const h = await harness();
  try {
    for (
      const call of [
        () => h.api.get("guardians"),
        () => h.api.post("guardians", { email: "x@example.org" }),
        () => h.api.delete(`guardians?guardianId=${PENDING_ROW}`),
        () => h.api.get("guardians", { token: "not-a-token" }),
      ]
    ) {
      assertError(await call(), 401, "unauthorized");
    }
    // Another streamer does not see A's guardian at all.
    assertError(
      await h.api.delete(`guardians?guardianId=${PENDING_ROW}`, { token: h.tokens.b }),
      404,
      "not_found",
    );
    // The guardian sees their own row, but only the streamer revokes.
    assertError(
      await h.api.delete(`guardians?guardianId=${GUARDIAN_A_ROW}`, { token: h.tokens.guardian }),
      403,
      "forbidden",
    );
    assertError(
      await h.api.delete(`guardians?guardianId=${crypto.randomUUID()}`, { token: h.tokens.a }),
      404,
      "not_found",
    );
    // A guardian's own list (as a streamer) does not include the streamers they guard.
    const own = await h.api.get("guardians", { token: h.tokens.guardian });
    assert.deepEqual(own.body.guardians, []);
    const wrong = await fetch(`${h.server.url}/functions/v1/guardians`, {
      method: "PUT",
      headers: { authorization: `Bearer ${h.tokens.a}` },
    });
    assert.equal(wrong.status, 405);
    assert.equal((await wrong.json()).error.code, "method_not_allowed");
    assert.equal(wrong.headers.get("allow"), "GET, POST, DELETE, OPTIONS");
    // Nothing changed.
    const list = await h.api.get("guardians", { token: h.tokens.a });
    assert.deepEqual(list.body.guardians.map((g: { status: string }) => g.status), [
      "pending",
      "active",
      "revoked",
    ]);
  } finally {
    await h.server.stop();
  }
});

Deno.test("a guardian confirms with the consent link, once and for all", async (t) => {
  const h = await harness();
  try {
    const consent = await h.link("consent", PENDING_ROW);

    await t.step("the consent link makes the guardian active", async () => {
      const confirmed = await h.api.post("guardian-consent", { link: consent });
      assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
      assert.equal(confirmed.body.guardian.id, PENDING_ROW);
      assert.equal(confirmed.body.guardian.status, "active");
    });

    await t.step("again, from the header or the query, is still 200 active", async () => {
      const byHeader = await h.api.post("guardian-consent", {}, {
        headers: { "x-link-token": consent },
      });
      assert.equal(byHeader.status, 200);
      assert.equal(byHeader.body.guardian.status, "active");
      const byQuery = await h.api.post(`guardian-consent?link=${consent}`, {});
      assert.equal(byQuery.status, 200);
    });

    await t.step(
      "expired, tampered, mistyped or mismatched links are 401 invalid_link",
      async () => {
        const old = createLinkSigner(
          h.server.env.LINK_SIGNING_SECRET,
          fixedClock(new Date(Date.now() - 8 * 86400_000)),
        );
        const expired = await old.sign({
          type: "consent",
          guardianId: PENDING_ROW,
          objectId: PENDING_ROW,
        });
        const tampered = consent.slice(0, -4) + (consent.endsWith("AAAA") ? "BBBB" : "AAAA");
        const foreign = await createLinkSigner("another-secret-that-is-long-enough-to-sign")
          .sign({ type: "consent", guardianId: PENDING_ROW, objectId: PENDING_ROW });
        const links = [
          expired,
          tampered,
          foreign,
          await h.link("preferences", PENDING_ROW),
          await h.link("watch", PENDING_ROW),
          await h.link("consent", PENDING_ROW, GUARDIAN_A_ROW),
          await h.link("consent", crypto.randomUUID()),
        ];
        for (const link of links) {
          assertError(await h.api.post("guardian-consent", { link }), 401, "invalid_link");
        }
      },
    );

    await t.step("revoking makes every link of that guardian fail at once", async () => {
      const invited = await h.api.post("guardians", { email: "late@example.org" }, {
        token: h.tokens.a,
      });
      const id = invited.body.guardian.id;
      const consentLink = await h.link("consent", id);
      const preferences = await h.link("preferences", id);
      assert.equal((await h.api.get(`notification-preferences?link=${preferences}`)).status, 200);
      const revoked = await h.api.delete(`guardians?guardianId=${id}`, { token: h.tokens.a });
      assert.equal(revoked.status, 200);
      assertError(await h.api.post("guardian-consent", { link: consentLink }), 401, "invalid_link");
      assertError(
        await h.api.get(`notification-preferences?link=${preferences}`),
        401,
        "invalid_link",
      );
      assertError(
        await h.api.post("notification-preferences", {
          link: preferences,
          notify: { streamStarted: true },
        }),
        401,
        "invalid_link",
      );
      // The seed's revoked guardian's watch link is dead too.
      const watch = await h.link("watch", REVOKED_ROW, crypto.randomUUID());
      assertError(await h.api.get(`streams?link=${watch}`), 401, "invalid_link");
    });

    await t.step(
      "a guardian with an account is linked to it and sees the streams once confirmed",
      async () => {
        // Streamer B's confirmed account address, invited by A.
        const invited = await h.api.post("guardians", { email: "Other-Streamer@example.test" }, {
          token: h.tokens.a,
        });
        assert.equal(invited.status, 201);
        const detail = `streams?sessionId=${DEMO_SESSION}`;
        assertError(await h.api.get(detail, { token: h.tokens.b }), 404, "not_found");
        const confirmed = await h.api.post("guardian-consent", {
          link: await h.link("consent", invited.body.guardian.id),
        });
        assert.equal(confirmed.status, 200);
        const seen = await h.api.get(detail, { token: h.tokens.b });
        assert.equal(seen.status, 200);
        assert.equal(seen.body.session.id, DEMO_SESSION);
      },
    );

    await t.step("no link at all is 400 naming link", async () => {
      const missing = assertError(await h.api.post("guardian-consent", {}), 400, "invalid_request");
      assert.deepEqual(missing.details.map((d: { path: string }) => d.path), ["link"]);
    });
  } finally {
    await h.server.stop();
  }
});

Deno.test("a guardian reads and changes their email choices, and unsubscribes in one click", async (t) => {
  const h = await harness();
  try {
    const link = await h.link("preferences", GUARDIAN_A_ROW);

    await t.step("GET shows the guardian, by query or header", async () => {
      const byQuery = await h.api.get(`notification-preferences?link=${link}`);
      assert.equal(byQuery.status, 200);
      assert.equal(byQuery.body.guardian.id, GUARDIAN_A_ROW);
      assert.deepEqual(byQuery.body.guardian.notify, {
        streamStarted: true,
        streamEnded: false,
        recordingReady: true,
      });
      const byHeader = await h.api.get("notification-preferences", {
        headers: { "x-link-token": link },
      });
      assert.equal(byHeader.status, 200);
    });

    await t.step("POST changes only the choices it names", async () => {
      const changed = await h.api.post("notification-preferences", {
        link,
        notify: { streamEnded: true },
      });
      assert.equal(changed.status, 200);
      assert.deepEqual(changed.body.guardian.notify, {
        streamStarted: true,
        streamEnded: true,
        recordingReady: true,
      });
    });

    await t.step("RFC 8058 one-click POST turns every email off", async () => {
      const response = await h.post(
        `notification-preferences?link=${link}`,
        "List-Unsubscribe=One-Click",
        { "content-type": "application/x-www-form-urlencoded" },
      );
      const body = await response.json();
      assert.equal(response.status, 200, JSON.stringify(body));
      assert.deepEqual(body.guardian.notify, {
        streamStarted: false,
        streamEnded: false,
        recordingReady: false,
      });
      assert.equal(body.guardian.status, "active", "unsubscribing is not revoking");
    });

    await t.step("as multipart/form-data too, and for a pending guardian", async () => {
      const pending = await h.link("preferences", PENDING_ROW);
      const form = new FormData();
      form.set("List-Unsubscribe", "One-Click");
      const response = await h.post(`notification-preferences?link=${pending}`, form, {});
      const body = await response.json();
      assert.equal(response.status, 200, JSON.stringify(body));
      assert.equal(body.guardian.notify.streamStarted, false);
    });

    await t.step("a wrong one-click body, no link, or another type is refused", async () => {
      const wrong = await h.post(`notification-preferences?link=${link}`, "List-Unsubscribe=Yes", {
        "content-type": "application/x-www-form-urlencoded",
      });
      assert.equal(wrong.status, 400);
      const wrongBody = await wrong.json();
      assert.equal(wrongBody.error.code, "invalid_request");
      assert.equal(wrongBody.error.details[0].path, "List-Unsubscribe");
      const noLink = await h.post("notification-preferences", "List-Unsubscribe=One-Click", {
        "content-type": "application/x-www-form-urlencoded",
      });
      assert.equal(noLink.status, 400);
      assert.equal((await noLink.json()).error.details[0].path, "link");
      const text = await h.post(`notification-preferences?link=${link}`, "unsubscribe", {
        "content-type": "text/plain",
      });
      assert.equal(text.status, 415);
      assert.equal((await text.json()).error.code, "unsupported_media_type");
      const consent = await h.link("consent", GUARDIAN_A_ROW);
      assertError(
        await h.api.get(`notification-preferences?link=${consent}`),
        401,
        "invalid_link",
      );
    });
  } finally {
    await h.server.stop();
  }
});

Deno.test("guardians allows 30 invitations an hour per streamer, then 429", async () => {
  const h = await harness();
  try {
    const statuses: number[] = [];
    let last;
    for (let i = 0; i < 31; i++) {
      last = await h.api.post("guardians", { email: `someone-${i % 9}@example.org` }, {
        token: h.tokens.b,
      });
      statuses.push(last.status);
    }
    assert.equal(statuses.filter((status) => status === 201).length, 9);
    assert.deepEqual(statuses.slice(9, 30), Array(21).fill(409));
    const error = assertError(last!, 429, "rate_limited");
    assert.ok(error.message);
    assert.ok(Number(last!.headers.get("retry-after")) >= 1);
  } finally {
    await h.server.stop();
  }
});
