/**
 * guardians, guardian-approval, guardian-consent and notification-preferences over HTTP through
 * the local server: the service's registrations, the streamer's invitations that wait for the
 * primary guardian's approval, revocations with their limits, the access matrix, and the
 * approval, consent and preferences flows driven by real link tokens signed with the server's
 * secret. The attacks of "Who may see a child" are refused here, each by its own step.
 */
import assert from "node:assert/strict";
import {
  DEMO_RECORDING,
  DEMO_SESSION,
  GUARDIAN_A_ROW,
  GUARDIAN_USER,
  PENDING_EMAIL,
  PENDING_ROW,
  REVOKED_ROW,
  REVOKED_USER,
  STREAMER_A,
  STREAMER_B,
  STREAMER_B_EMAIL,
} from "../../dev/seed_ids.ts";
import { fixedClock } from "../../shared/kernel/clock.ts";
import { createLinkSigner, type LinkType } from "../../shared/kernel/link.ts";
import { apiClient, assertError, type JsonResponse } from "../support/api.ts";
import { startLiveKitDouble } from "../support/livekit_double.ts";
import { startServer, type StartServerOptions, type TestServer } from "../support/stack.ts";
import { serviceToken, userToken } from "../support/tokens.ts";

interface Harness {
  server: TestServer;
  api: ReturnType<typeof apiClient>;
  tokens: { a: string; b: string; guardian: string; revoked: string; service: string };
  link(type: LinkType, guardianId: string, objectId?: string): Promise<string>;
  post(path: string, body: BodyInit, headers: Record<string, string>): Promise<Response>;
  /** Drains the outbox and returns the captured emails, newest first. */
  mail(): Promise<{ kind: string; to_address: string; subject: string; text_body: string }[]>;
}

/** A stranger's account (on PGlite, added before the server's first request). */
const STRANGER = "5a5a5a5a-5a5a-4a5a-8a5a-5a5a5a5a5a5a";

async function harness(options: StartServerOptions & { stranger?: string } = {}): Promise<Harness> {
  const server = await startServer(options);
  if (options.stranger) {
    // Signs up (confirmed) with the address given, as anyone may.
    await server.sql`
      insert into auth.users (id, aud, role, email, email_confirmed_at, raw_user_meta_data)
      values (${STRANGER}, 'authenticated', 'authenticated', ${options.stranger}, now(), '{}')`;
  }
  const secret = server.env.SUPABASE_JWT_SECRET;
  const links = createLinkSigner(server.env.LINK_SIGNING_SECRET);
  const api = apiClient(server.url);
  const service = await serviceToken(secret);
  return {
    server,
    api,
    tokens: {
      a: await userToken(secret, STREAMER_A),
      b: await userToken(secret, STREAMER_B),
      guardian: await userToken(secret, GUARDIAN_USER),
      revoked: await userToken(secret, REVOKED_USER),
      service,
    },
    link: (type, guardianId, objectId = guardianId) => links.sign({ type, guardianId, objectId }),
    post: (path, body, headers) =>
      fetch(`${server.url}/functions/v1/${path}`, { method: "POST", body, headers }),
    async mail() {
      const drained = await api.post("send-notification", { limit: 500 }, { token: service });
      assert.equal(drained.status, 200, JSON.stringify(drained.body));
      return (await (await fetch(`${server.url}/_dev/mail?format=json`)).json()).emails;
    },
  };
}

function statuses(list: JsonResponse): [string, string, string][] {
  return list.body.guardians.map((g: { id: string; role: string; status: string }) => [
    g.id,
    g.role,
    g.status,
  ]);
}

Deno.test("a streamer lists, invites and revokes guardians; invitations await approval", async (t) => {
  const h = await harness();
  try {
    let added: { id: string };

    await t.step("the list shows every guardian of the streamer, newest first", async () => {
      const list = await h.api.get("guardians", { token: h.tokens.a });
      assert.equal(list.status, 200);
      assert.deepEqual(statuses(list), [
        [PENDING_ROW, "viewer", "pending"],
        [GUARDIAN_A_ROW, "primary", "active"],
        [REVOKED_ROW, "viewer", "revoked"],
      ]);
      assert.deepEqual(list.body.guardians[1], {
        id: GUARDIAN_A_ROW,
        email: "parent@example.test",
        name: "Parent",
        role: "primary",
        status: "active",
        notify: { streamStarted: true, streamEnded: false, recordingReady: true },
        createdAt: "2026-01-02T00:00:00.000Z",
      });
      const other = await h.api.get("guardians", { token: h.tokens.b });
      assert.deepEqual(other.body.guardians, []);
    });

    await t.step(
      "an invitation awaits approval, normalised, with the default choices",
      async () => {
        const created = await h.api.post("guardians", {
          email: "  Grandma.Jo@Example.ORG ",
          name: "  Grandma Jo ",
        }, { token: h.tokens.a });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        added = created.body.guardian;
        assert.equal(created.body.guardian.email, "grandma.jo@example.org");
        assert.equal(created.body.guardian.name, "Grandma Jo");
        assert.equal(created.body.guardian.role, "viewer");
        assert.equal(created.body.guardian.status, "awaiting_approval");
        assert.deepEqual(created.body.guardian.notify, {
          streamStarted: true,
          streamEnded: false,
          recordingReady: true,
        });
        const list = await h.api.get("guardians", { token: h.tokens.a });
        assert.equal(list.body.guardians[0].id, added.id);
      },
    );

    await t.step("the one email goes to the primary guardian, not to the invitee", async () => {
      const emails = await h.mail();
      const about = emails.filter((email) => email.text_body.includes("grandma.jo@example.org"));
      assert.deepEqual(about.map((email) => [email.kind, email.to_address]), [
        ["approval", "parent@example.test"],
      ]);
      assert.equal(
        emails.filter((email) => email.to_address === "grandma.jo@example.org").length,
        0,
      );
      assert.doesNotMatch(about[0].subject, /Grandma|Streamer A/);
      assert.match(about[0].text_body, /#\/approval\?link=/);
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
    });

    await t.step("without an active primary guardian: 409 primary_guardian_required", async () => {
      assertError(
        await h.api.post("guardians", { email: "grandma.jo@example.org" }, { token: h.tokens.b }),
        409,
        "primary_guardian_required",
      );
    });

    await t.step("a revoked guardian's address may be invited again", async () => {
      const again = await h.api.post("guardians", { email: "revoked-parent@example.test" }, {
        token: h.tokens.a,
      });
      assert.equal(again.status, 201);
      assert.notEqual(again.body.guardian.id, REVOKED_ROW);
    });

    await t.step("at most 10 awaiting, pending or active guardians: then 409", async () => {
      // A has 5 now (the primary, a pending guardian, 3 awaiting approval).
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

    await t.step("the child cannot revoke the primary guardian: 403", async () => {
      assertError(
        await h.api.delete(`guardians?guardianId=${GUARDIAN_A_ROW}`, { token: h.tokens.a }),
        403,
        "forbidden",
      );
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
    // Another streamer does not see A's guardian at all, nor A's list.
    assertError(
      await h.api.delete(`guardians?guardianId=${PENDING_ROW}`, { token: h.tokens.b }),
      404,
      "not_found",
    );
    assertError(
      await h.api.get(`guardians?streamerId=${STREAMER_A}`, { token: h.tokens.b }),
      404,
      "not_found",
    );
    // A revoked guardian's account is nobody to A any more.
    assertError(
      await h.api.delete(`guardians?guardianId=${PENDING_ROW}`, { token: h.tokens.revoked }),
      404,
      "not_found",
    );
    assertError(
      await h.api.get(`guardians?streamerId=${STREAMER_A}`, { token: h.tokens.revoked }),
      404,
      "not_found",
    );
    assertError(
      await h.api.delete(`guardians?guardianId=${crypto.randomUUID()}`, { token: h.tokens.a }),
      404,
      "not_found",
    );
    // Anonymous sign-ins manage nothing.
    const anonymous = await userToken(h.server.env.SUPABASE_JWT_SECRET, STREAMER_A, {
      is_anonymous: true,
    });
    assertError(await h.api.get("guardians", { token: anonymous }), 403, "forbidden");
    assertError(
      await h.api.post("guardians", { email: "x@example.org" }, { token: anonymous }),
      403,
      "forbidden",
    );
    // A token whose subject is no user: 401, not a database error.
    const ghost = await userToken(h.server.env.SUPABASE_JWT_SECRET, crypto.randomUUID());
    assertError(
      await h.api.post("guardians", { email: "x@example.org" }, { token: ghost }),
      401,
      "unauthorized",
    );
    // The service registers; it neither lists nor revokes.
    assertError(await h.api.get("guardians", { token: h.tokens.service }), 403, "forbidden");
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

Deno.test("the primary guardian lists and revokes the streamer's guardians; viewers cannot", async () => {
  const h = await harness();
  try {
    const listed = await h.api.get(`guardians?streamerId=${STREAMER_A}`, {
      token: h.tokens.guardian,
    });
    assert.equal(listed.status, 200, JSON.stringify(listed.body));
    assert.deepEqual(statuses(listed), [
      [PENDING_ROW, "viewer", "pending"],
      [GUARDIAN_A_ROW, "primary", "active"],
      [REVOKED_ROW, "viewer", "revoked"],
    ]);
    // Streamer B becomes an active viewer of A by proof: registered, then consenting signed in.
    const registered = await h.api.post("guardians", {
      streamerId: STREAMER_A,
      email: STREAMER_B_EMAIL,
      role: "viewer",
    }, { token: h.tokens.service });
    assert.equal(registered.status, 201, JSON.stringify(registered.body));
    const viewerRow = registered.body.guardian.id;
    const consented = await h.api.post("guardian-consent", {
      link: await h.link("consent", viewerRow),
    }, { token: h.tokens.b });
    assert.equal(consented.body.guardian.status, "active");
    // A viewer sees A's streams, but neither lists nor revokes A's guardians.
    assertError(
      await h.api.get(`guardians?streamerId=${STREAMER_A}`, { token: h.tokens.b }),
      403,
      "forbidden",
    );
    assertError(
      await h.api.delete(`guardians?streamerId=${STREAMER_A}&guardianId=${PENDING_ROW}`, {
        token: h.tokens.b,
      }),
      403,
      "forbidden",
    );
    // The primary guardian revokes; a streamerId that is not the guardian's streamer finds nothing.
    assertError(
      await h.api.delete(`guardians?streamerId=${STREAMER_B}&guardianId=${viewerRow}`, {
        token: h.tokens.guardian,
      }),
      404,
      "not_found",
    );
    const revoked = await h.api.delete(
      `guardians?streamerId=${STREAMER_A}&guardianId=${viewerRow}`,
      { token: h.tokens.guardian },
    );
    assert.equal(revoked.status, 200);
    assert.equal(revoked.body.guardian.status, "revoked");
    assertError(
      await h.api.get(`streams?sessionId=${DEMO_SESSION}`, { token: h.tokens.b }),
      404,
      "not_found",
    );
  } finally {
    await h.server.stop();
  }
});

Deno.test("the service registers the primary guardian, who approves invitations by link", async (t) => {
  const h = await harness();
  try {
    let primary: { id: string };
    let invited: { id: string };
    let approval: string;

    await t.step("only the service registers, and only for a streamer that exists", async () => {
      assertError(
        await h.api.post("guardians", {
          streamerId: STREAMER_B,
          email: "mum@example.org",
          role: "primary",
        }, { token: h.tokens.b }),
        400,
        "invalid_request",
      );
      assertError(
        await h.api.post("guardians", {
          streamerId: crypto.randomUUID(),
          email: "mum@example.org",
          role: "primary",
        }, { token: h.tokens.service }),
        404,
        "not_found",
      );
    });

    await t.step("the primary guardian is pending until its own consent", async () => {
      const created = await h.api.post("guardians", {
        streamerId: STREAMER_B,
        email: "Mum@Example.org",
        name: "Mum",
        role: "primary",
      }, { token: h.tokens.service });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      primary = created.body.guardian;
      assert.equal(created.body.guardian.role, "primary");
      assert.equal(created.body.guardian.status, "pending");
      const again = await h.api.post("guardians", {
        streamerId: STREAMER_B,
        email: "mum@example.org",
        role: "primary",
      }, { token: h.tokens.service });
      assert.equal(again.status, 200, "the same primary again changes nothing");
      assert.equal(again.body.guardian.id, primary.id);
      // Pending is not enough to approve anything.
      assertError(
        await h.api.post("guardians", { email: "friend@example.org" }, { token: h.tokens.b }),
        409,
        "primary_guardian_required",
      );
      const emails = await h.mail();
      assert.deepEqual(
        emails.filter((email) => email.to_address === "mum@example.org").map((e) => e.kind),
        ["consent"],
      );
      const confirmed = await h.api.post("guardian-consent", {
        link: await h.link("consent", primary.id),
      });
      assert.equal(confirmed.body.guardian.status, "active");
    });

    await t.step("an invitation reaches the primary guardian as an approval link", async () => {
      const created = await h.api.post("guardians", { email: "friend@example.org", name: "Fr" }, {
        token: h.tokens.b,
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      invited = created.body.guardian;
      assert.equal(created.body.guardian.status, "awaiting_approval");
      const emails = await h.mail();
      const approvals = emails.filter((email) => email.kind === "approval");
      assert.deepEqual(approvals.map((email) => email.to_address), ["mum@example.org"]);
      const match = /#\/approval\?link=([\w.-]+)/.exec(approvals[0].text_body);
      assert.ok(match);
      approval = match[1];
      assert.equal(emails.filter((email) => email.to_address === "friend@example.org").length, 0);
    });

    await t.step("the invitee cannot consent before the approval", async () => {
      assertError(
        await h.api.post("guardian-consent", { link: await h.link("consent", invited.id) }),
        401,
        "invalid_link",
      );
    });

    await t.step("GET shows the invitation and who asked", async () => {
      const shown = await h.api.get(`guardian-approval?link=${approval}`);
      assert.equal(shown.status, 200, JSON.stringify(shown.body));
      assert.equal(shown.body.guardian.id, invited.id);
      assert.equal(shown.body.guardian.status, "awaiting_approval");
      assert.deepEqual(shown.body.streamer, { displayName: "Streamer B" });
      const byHeader = await h.api.get("guardian-approval", {
        headers: { "x-link-token": approval },
      });
      assert.equal(byHeader.status, 200);
    });

    await t.step("approving makes the invitee pending and sends its consent email", async () => {
      const approved = await h.api.post("guardian-approval", {
        link: approval,
        decision: "approve",
      });
      assert.equal(approved.status, 200, JSON.stringify(approved.body));
      assert.equal(approved.body.guardian.status, "pending");
      const again = await h.api.post("guardian-approval", { link: approval, decision: "approve" });
      assert.equal(again.status, 200);
      assertError(
        await h.api.post("guardian-approval", { link: approval, decision: "deny" }),
        409,
        "guardian_decided",
      );
      const emails = await h.mail();
      assert.deepEqual(
        emails.filter((email) => email.to_address === "friend@example.org").map((e) => e.kind),
        ["consent"],
      );
      const consent = /#\/consent\?link=([\w.-]+)/.exec(
        emails.find((email) => email.to_address === "friend@example.org")!.text_body,
      )![1];
      const confirmed = await h.api.post("guardian-consent", { link: consent });
      assert.equal(confirmed.body.guardian.status, "active");
    });

    await t.step("denying revokes; the same denial again is 200, approving then 409", async () => {
      const other = await h.api.post("guardians", { email: "stranger@example.org" }, {
        token: h.tokens.b,
      });
      const link = await h.link("approval", primary.id, other.body.guardian.id);
      const denied = await h.api.post("guardian-approval", {}, {
        headers: { "x-link-token": link, "content-type": "application/json" },
      });
      assertError(denied, 400, "invalid_request");
      const refused = await h.api.post("guardian-approval", { link, decision: "deny" });
      assert.equal(refused.status, 200);
      assert.equal(refused.body.guardian.status, "revoked");
      assert.equal((await h.api.post("guardian-approval", { link, decision: "deny" })).status, 200);
      assertError(
        await h.api.post("guardian-approval", { link, decision: "approve" }),
        409,
        "guardian_decided",
      );
      const emails = await h.mail();
      assert.equal(emails.filter((email) => email.to_address === "stranger@example.org").length, 0);
    });

    await t.step(
      "links that are not the active primary guardian's are 401 invalid_link",
      async () => {
        const old = createLinkSigner(
          h.server.env.LINK_SIGNING_SECRET,
          fixedClock(new Date(Date.now() - 8 * 86400_000)),
        );
        const links = [
          await old.sign({ type: "approval", guardianId: primary.id, objectId: invited.id }),
          approval.slice(0, -4) + (approval.endsWith("AAAA") ? "BBBB" : "AAAA"),
          await h.link("consent", primary.id, invited.id),
          // A's primary guardian about B's invitee, and B's pending viewer about itself.
          await h.link("approval", GUARDIAN_A_ROW, invited.id),
          await h.link("approval", invited.id, primary.id),
          await h.link("approval", primary.id, primary.id),
        ];
        for (const link of links) {
          assertError(await h.api.get(`guardian-approval?link=${link}`), 401, "invalid_link");
          assertError(
            await h.api.post("guardian-approval", { link, decision: "approve" }),
            401,
            "invalid_link",
          );
        }
      },
    );

    await t.step("a new primary replaces the old one, whose approval links die", async () => {
      const pendingInvite = await h.api.post("guardians", { email: "late@example.org" }, {
        token: h.tokens.b,
      });
      const oldLink = await h.link("approval", primary.id, pendingInvite.body.guardian.id);
      const replaced = await h.api.post("guardians", {
        streamerId: STREAMER_B,
        email: "dad@example.org",
        role: "primary",
      }, { token: h.tokens.service });
      assert.equal(replaced.status, 201);
      assertError(
        await h.api.post("guardian-approval", { link: oldLink, decision: "approve" }),
        401,
        "invalid_link",
      );
      const list = await h.api.get("guardians", { token: h.tokens.b });
      const byEmail = Object.fromEntries(
        list.body.guardians.map((g: { email: string; status: string }) => [g.email, g.status]),
      );
      assert.equal(byEmail["mum@example.org"], "revoked");
      assert.equal(byEmail["dad@example.org"], "pending");
      assert.equal(byEmail["late@example.org"], "awaiting_approval");
      // Once the new primary consents, the waiting invitation is put to it.
      await h.api.post("guardian-consent", {
        link: await h.link("consent", replaced.body.guardian.id),
      });
      const emails = await h.mail();
      const approvals = emails.filter((email) => email.kind === "approval");
      assert.ok(
        approvals.some((email) =>
          email.to_address === "dad@example.org" && email.text_body.includes("late@example.org")
        ),
      );
    });
  } finally {
    await h.server.stop();
  }
});

Deno.test("rights follow proof: an account with a parent's email gets nothing", async (t) => {
  // The stranger signs up, confirmed, with the address of A's pending guardian.
  const h = await harness({ stranger: PENDING_EMAIL });
  try {
    const stranger = await userToken(h.server.env.SUPABASE_JWT_SECRET, STRANGER);
    const consent = await h.link("consent", PENDING_ROW);

    await t.step("the parent consents by link alone: no account is bound", async () => {
      const confirmed = await h.api.post("guardian-consent", { link: consent });
      assert.equal(confirmed.body.guardian.status, "active");
    });

    await t.step("the stranger with the same email sees and does nothing", async () => {
      const list = await h.api.get("streams", { token: stranger });
      assert.deepEqual(list.body.streams, []);
      for (
        const response of [
          await h.api.get(`streams?sessionId=${DEMO_SESSION}`, { token: stranger }),
          await h.api.get(`recording-url?recordingId=${DEMO_RECORDING}`, { token: stranger }),
          await h.api.post("livekit-token", { sessionId: DEMO_SESSION }, { token: stranger }),
          await h.api.post("delete-recording", { recordingId: DEMO_RECORDING }, {
            token: stranger,
          }),
          await h.api.get(`guardians?streamerId=${STREAMER_A}`, { token: stranger }),
          await h.api.delete(`guardians?guardianId=${PENDING_ROW}`, { token: stranger }),
        ]
      ) {
        assert.ok(
          response.status === 404 || response.status === 403,
          `${response.status} ${JSON.stringify(response.body)}`,
        );
      }
    });

    await t.step("an account that presents the consent link signed in is bound", async () => {
      // The revoked parent's account, whose address is not the pending guardian's at all.
      const bound = await h.api.post("guardian-consent", {}, {
        token: h.tokens.revoked,
        headers: { "x-link-token": consent },
      });
      assert.equal(bound.status, 200, JSON.stringify(bound.body));
      const seen = await h.api.get(`streams?sessionId=${DEMO_SESSION}`, {
        token: h.tokens.revoked,
      });
      assert.equal(seen.status, 200, JSON.stringify(seen.body));
      // The first proof wins: the stranger presenting the same link later binds nothing.
      await h.api.post("guardian-consent", { link: consent }, { token: stranger });
      assertError(
        await h.api.get(`streams?sessionId=${DEMO_SESSION}`, { token: stranger }),
        404,
        "not_found",
      );
    });

    await t.step("a bad bearer token beside the link is 401, not ignored", async () => {
      assertError(
        await h.api.post("guardian-consent", { link: consent }, { token: "not-a-token" }),
        401,
        "unauthorized",
      );
    });
  } finally {
    await h.server.stop();
  }
});

Deno.test("revoking a guardian removes it from the streamer's live rooms", async () => {
  const livekit = startLiveKitDouble();
  const h = await harness({ env: livekit.env });
  const session = crypto.randomUUID();
  const room = `session-${session}`;
  try {
    // A live session of A, and its room on the LiveKit double.
    await h.server.sql`
      insert into public.stream_sessions (id, streamer_id, room_name, status, started_at, record)
      values (${session}, ${STREAMER_A}, ${room}, 'live', now(), false)`;
    livekit.addRoom(room);
    const revoked = await h.api.delete(`guardians?guardianId=${PENDING_ROW}`, {
      token: h.tokens.a,
    });
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    const removals = livekit.calls.filter((call) => call.method === "RemoveParticipant");
    assert.deepEqual(removals.map((call) => call.body), [
      { room, identity: `guardian:${PENDING_ROW}` },
    ]);
    // A new primary revokes the old one, which leaves the room too.
    const replaced = await h.api.post("guardians", {
      streamerId: STREAMER_A,
      email: "new-parent@example.org",
      role: "primary",
    }, { token: h.tokens.service });
    assert.equal(replaced.status, 201);
    assert.deepEqual(
      livekit.calls.filter((call) => call.method === "RemoveParticipant").map((call) => call.body),
      [
        { room, identity: `guardian:${PENDING_ROW}` },
        { room, identity: `guardian:${GUARDIAN_A_ROW}` },
      ],
    );
    // Revoking again asks LiveKit again; LiveKit failing does not fail the revocation.
    livekit.mode = "fail";
    const again = await h.api.delete(`guardians?guardianId=${PENDING_ROW}`, { token: h.tokens.a });
    assert.equal(again.status, 200);
    assert.equal(again.body.guardian.status, "revoked");
    assert.equal(livekit.calls.filter((call) => call.method === "RemoveParticipant").length, 3);
  } finally {
    await h.server.stop();
    await livekit.close();
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
        token: h.tokens.a,
      });
      statuses.push(last.status);
    }
    // A has 2 guardians that count (its primary and a pending one): 8 fit, then 409s.
    assert.equal(statuses.filter((status) => status === 201).length, 8);
    assert.deepEqual(statuses.slice(8, 30), Array(22).fill(409));
    const error = assertError(last!, 429, "rate_limited");
    assert.ok(error.message);
    assert.ok(Number(last!.headers.get("retry-after")) >= 1);
  } finally {
    await h.server.stop();
  }
});

Deno.test("link doors allow 30 requests a minute per link, then 429 with Retry-After", async () => {
  const h = await harness();
  try {
    const invited = await h.api.post("guardians", { email: "door@example.org" }, {
      token: h.tokens.a,
    });
    const doors: [string, () => Promise<JsonResponse>][] = [
      [
        "guardian-consent",
        async () => h.api.post("guardian-consent", { link: await h.link("consent", PENDING_ROW) }),
      ],
      [
        "guardian-approval",
        async () =>
          h.api.get(
            `guardian-approval?link=${await h.link(
              "approval",
              GUARDIAN_A_ROW,
              invited.body.guardian.id,
            )}`,
          ),
      ],
      [
        "notification-preferences",
        async () =>
          h.api.get(`notification-preferences?link=${await h.link("preferences", GUARDIAN_A_ROW)}`),
      ],
    ];
    for (const [door, call] of doors) {
      // Fresh copies of one link (signed anew each time) share its bucket.
      for (let i = 0; i < 30; i++) assert.equal((await call()).status, 200, door);
      const limited = assertError(await call(), 429, "rate_limited");
      assert.ok(limited.message, door);
    }
    // Another link is not held back by them.
    const other = await h.api.post("guardian-consent", {
      link: await h.link("consent", crypto.randomUUID()),
    });
    assertError(other, 401, "invalid_link");
  } finally {
    await h.server.stop();
  }
});
