/**
 * Bad input to guardians, guardian-consent, guardian-approval, notification-preferences and
 * send-notification:
 * every field wrong in type, missing, too long, and unknown extra fields. Each is
 * `400 invalid_request` naming the field, and nothing is written.
 */
import assert from "node:assert/strict";
import { GUARDIAN_A_ROW, STREAMER_A } from "../../dev/seed_ids.ts";
import { createLinkSigner } from "../../shared/kernel/link.ts";
import { apiClient, assertError } from "../support/api.ts";
import { startServer } from "../support/stack.ts";
import { serviceToken, userToken } from "../support/tokens.ts";

const UUID = "0b9a8f4e-4a47-4c8e-8f3c-9d2f1e0b6a11";
const long = (n: number) => "x".repeat(n);

type Caller = "streamer" | "service" | "link";

interface Case {
  name: string;
  fn: string;
  method: "GET" | "POST" | "DELETE";
  body?: unknown;
  query?: string;
  caller: Caller;
  /** The failed field's path; an unknown field's names it. */
  path: string;
  /** For unknown fields: the name the message must mention. */
  names?: string;
}

const CASES: Case[] = [
  // guardians POST
  {
    name: "email missing",
    fn: "guardians",
    method: "POST",
    body: {},
    caller: "streamer",
    path: "email",
  },
  {
    name: "email of the wrong type",
    fn: "guardians",
    method: "POST",
    body: { email: 42 },
    caller: "streamer",
    path: "email",
  },
  {
    name: "email not an address",
    fn: "guardians",
    method: "POST",
    body: { email: "grandma" },
    caller: "streamer",
    path: "email",
  },
  {
    name: "email without a domain",
    fn: "guardians",
    method: "POST",
    body: { email: "kid@localhost" },
    caller: "streamer",
    path: "email",
  },
  {
    name: "email empty",
    fn: "guardians",
    method: "POST",
    body: { email: "   " },
    caller: "streamer",
    path: "email",
  },
  {
    name: "email too long",
    fn: "guardians",
    method: "POST",
    body: { email: `${long(250)}@example.org` },
    caller: "streamer",
    path: "email",
  },
  {
    name: "name of the wrong type",
    fn: "guardians",
    method: "POST",
    body: { email: "a@example.org", name: 7 },
    caller: "streamer",
    path: "name",
  },
  {
    name: "name empty",
    fn: "guardians",
    method: "POST",
    body: { email: "a@example.org", name: "  " },
    caller: "streamer",
    path: "name",
  },
  {
    name: "name too long",
    fn: "guardians",
    method: "POST",
    body: { email: "a@example.org", name: long(101) },
    caller: "streamer",
    path: "name",
  },
  {
    name: "name with a line break",
    fn: "guardians",
    method: "POST",
    body: { email: "a@example.org", name: "Eve\nBcc: x" },
    caller: "streamer",
    path: "name",
  },
  {
    name: "name with a bidi override",
    fn: "guardians",
    method: "POST",
    body: { email: "a@example.org", name: "Eve\u202Egnp.exe" },
    caller: "streamer",
    path: "name",
  },
  {
    name: "name with a zero-width space",
    fn: "guardians",
    method: "POST",
    body: { email: "a@example.org", name: "Ev\u200Be" },
    caller: "streamer",
    path: "name",
  },
  {
    name: "name with a line separator",
    fn: "guardians",
    method: "POST",
    body: { email: "a@example.org", name: "Eve\u2028Subject: hi" },
    caller: "streamer",
    path: "name",
  },
  {
    name: "a streamer naming a streamer",
    fn: "guardians",
    method: "POST",
    body: { email: "a@example.org", streamerId: UUID },
    caller: "streamer",
    path: "streamerId",
    names: "streamerId",
  },
  {
    name: "a streamer naming a role",
    fn: "guardians",
    method: "POST",
    body: { email: "a@example.org", role: "primary" },
    caller: "streamer",
    path: "role",
    names: "role",
  },
  // guardians POST by the service
  {
    name: "streamerId missing",
    fn: "guardians",
    method: "POST",
    body: { email: "a@example.org", role: "primary" },
    caller: "service",
    path: "streamerId",
  },
  {
    name: "role missing",
    fn: "guardians",
    method: "POST",
    body: { streamerId: UUID, email: "a@example.org" },
    caller: "service",
    path: "role",
  },
  {
    name: "role unknown",
    fn: "guardians",
    method: "POST",
    body: { streamerId: UUID, email: "a@example.org", role: "owner" },
    caller: "service",
    path: "role",
  },
  {
    name: "notify from the service",
    fn: "guardians",
    method: "POST",
    body: { streamerId: UUID, email: "a@example.org", role: "viewer", notify: {} },
    caller: "service",
    path: "notify",
    names: "notify",
  },
  {
    name: "notify of the wrong type",
    fn: "guardians",
    method: "POST",
    body: { email: "a@example.org", notify: true },
    caller: "streamer",
    path: "notify",
  },
  {
    name: "notify.streamStarted of the wrong type",
    fn: "guardians",
    method: "POST",
    body: { email: "a@example.org", notify: { streamStarted: "yes" } },
    caller: "streamer",
    path: "notify.streamStarted",
  },
  {
    name: "unknown field in notify",
    fn: "guardians",
    method: "POST",
    body: { email: "a@example.org", notify: { sms: true } },
    caller: "streamer",
    path: "notify.sms",
    names: "sms",
  },
  {
    name: "unknown top-level field",
    fn: "guardians",
    method: "POST",
    body: { email: "a@example.org", status: "active" },
    caller: "streamer",
    path: "status",
    names: "status",
  },
  // guardians DELETE and GET
  {
    name: "guardianId missing",
    fn: "guardians",
    method: "DELETE",
    query: "",
    caller: "streamer",
    path: "guardianId",
  },
  {
    name: "guardianId not a UUID",
    fn: "guardians",
    method: "DELETE",
    query: "guardianId=abc",
    caller: "streamer",
    path: "guardianId",
  },
  {
    name: "guardianId too long",
    fn: "guardians",
    method: "DELETE",
    query: `guardianId=${long(300)}`,
    caller: "streamer",
    path: "guardianId",
  },
  {
    name: "guardianId given twice",
    fn: "guardians",
    method: "DELETE",
    query: `guardianId=${UUID}&guardianId=${UUID}`,
    caller: "streamer",
    path: "guardianId",
  },
  {
    name: "unknown query parameter",
    fn: "guardians",
    method: "DELETE",
    query: `guardianId=${UUID}&hard=1`,
    caller: "streamer",
    path: "hard",
    names: "hard",
  },
  {
    name: "unknown query parameter",
    fn: "guardians",
    method: "GET",
    query: "status=active",
    caller: "streamer",
    path: "status",
    names: "status",
  },
  // guardian-approval
  {
    name: "decision missing",
    fn: "guardian-approval",
    method: "POST",
    body: { link: "x" },
    caller: "link",
    path: "decision",
  },
  {
    name: "decision unknown",
    fn: "guardian-approval",
    method: "POST",
    body: { link: "x", decision: "maybe" },
    caller: "link",
    path: "decision",
  },
  {
    name: "unknown field",
    fn: "guardian-approval",
    method: "POST",
    body: { link: "x", decision: "approve", status: "active" },
    caller: "link",
    path: "status",
    names: "status",
  },
  {
    name: "link missing",
    fn: "guardian-approval",
    method: "POST",
    body: { decision: "approve" },
    caller: "link",
    path: "link",
  },
  {
    name: "link missing",
    fn: "guardian-approval",
    method: "GET",
    query: "",
    caller: "link",
    path: "link",
  },
  {
    name: "unknown query parameter",
    fn: "guardian-approval",
    method: "GET",
    query: "link=x&decision=approve",
    caller: "link",
    path: "decision",
    names: "decision",
  },
  // guardian-consent
  {
    name: "link missing",
    fn: "guardian-consent",
    method: "POST",
    body: {},
    caller: "link",
    path: "link",
  },
  {
    name: "link of the wrong type",
    fn: "guardian-consent",
    method: "POST",
    body: { link: 5 },
    caller: "link",
    path: "link",
  },
  {
    name: "link too long",
    fn: "guardian-consent",
    method: "POST",
    body: { link: long(5000) },
    caller: "link",
    path: "link",
  },
  {
    name: "unknown field",
    fn: "guardian-consent",
    method: "POST",
    body: { link: "x", guardianId: UUID },
    caller: "link",
    path: "guardianId",
    names: "guardianId",
  },
  // notification-preferences
  {
    name: "link missing",
    fn: "notification-preferences",
    method: "GET",
    query: "",
    caller: "link",
    path: "link",
  },
  {
    name: "link too long",
    fn: "notification-preferences",
    method: "GET",
    query: `link=${long(5000)}`,
    caller: "link",
    path: "link",
  },
  {
    name: "unknown query parameter",
    fn: "notification-preferences",
    method: "GET",
    query: "link=x&email=y",
    caller: "link",
    path: "email",
    names: "email",
  },
  {
    name: "notify missing",
    fn: "notification-preferences",
    method: "POST",
    body: { link: "x" },
    caller: "link",
    path: "notify",
  },
  {
    name: "notify of the wrong type",
    fn: "notification-preferences",
    method: "POST",
    body: { link: "x", notify: "off" },
    caller: "link",
    path: "notify",
  },
  {
    name: "notify.recordingReady of the wrong type",
    fn: "notification-preferences",
    method: "POST",
    body: { link: "x", notify: { recordingReady: 0 } },
    caller: "link",
    path: "notify.recordingReady",
  },
  {
    name: "unknown field in notify",
    fn: "notification-preferences",
    method: "POST",
    body: { link: "x", notify: { marketing: false } },
    caller: "link",
    path: "notify.marketing",
    names: "marketing",
  },
  {
    name: "link of the wrong type",
    fn: "notification-preferences",
    method: "POST",
    body: { link: [], notify: {} },
    caller: "link",
    path: "link",
  },
  {
    name: "unknown field",
    fn: "notification-preferences",
    method: "POST",
    body: { link: "x", notify: {}, email: "a@b.co" },
    caller: "link",
    path: "email",
    names: "email",
  },
  // send-notification
  {
    name: "limit of the wrong type",
    fn: "send-notification",
    method: "POST",
    body: { limit: "5" },
    caller: "service",
    path: "limit",
  },
  {
    name: "limit not whole",
    fn: "send-notification",
    method: "POST",
    body: { limit: 1.5 },
    caller: "service",
    path: "limit",
  },
  {
    name: "limit too small",
    fn: "send-notification",
    method: "POST",
    body: { limit: 0 },
    caller: "service",
    path: "limit",
  },
  {
    name: "limit too large",
    fn: "send-notification",
    method: "POST",
    body: { limit: 501 },
    caller: "service",
    path: "limit",
  },
  {
    name: "unknown field",
    fn: "send-notification",
    method: "POST",
    body: { limit: 5, kind: "consent" },
    caller: "service",
    path: "kind",
    names: "kind",
  },
];

Deno.test("bad input to the guardian and email functions is 400 and writes nothing", async (t) => {
  const server = await startServer();
  const api = apiClient(server.url);
  const tokens: Record<Caller, string | undefined> = {
    streamer: await userToken(server.env.SUPABASE_JWT_SECRET, STREAMER_A),
    service: await serviceToken(server.env.SUPABASE_JWT_SECRET),
    link: undefined,
  };
  const preferences = await createLinkSigner(server.env.LINK_SIGNING_SECRET).sign({
    type: "preferences",
    guardianId: GUARDIAN_A_ROW,
    objectId: GUARDIAN_A_ROW,
  });
  try {
    for (const c of CASES) {
      await t.step(`${c.fn} ${c.method}: ${c.name}`, async () => {
        const token = tokens[c.caller];
        const path = c.query === undefined ? c.fn : `${c.fn}?${c.query}`;
        const response = c.method === "POST"
          ? await api.post(path, c.body, { token })
          : c.method === "GET"
          ? await api.get(path, { token })
          : await api.delete(path, { token });
        const error = assertError(response, 400, "invalid_request");
        const paths = error.details.map((issue: { path: string }) => issue.path);
        assert.ok(paths.includes(c.path), `expected ${c.path} in ${JSON.stringify(error.details)}`);
        if (c.names) {
          const issue = error.details.find((d: { path: string }) => d.path === c.path);
          assert.match(issue.message, new RegExp(c.names));
        }
      });
    }

    for (
      const fn of [
        "guardians",
        "guardian-consent",
        "guardian-approval",
        "notification-preferences",
        "send-notification",
      ]
    ) {
      await t.step(`${fn}: broken JSON, a non-object, an oversized body`, async () => {
        const token = fn === "guardians"
          ? tokens.streamer
          : fn === "send-notification"
          ? tokens.service
          : undefined;
        const link = fn === "notification-preferences" ? `?link=${preferences}` : "";
        assertError(await api.post(`${fn}${link}`, "{", { token }), 400, "invalid_json");
        assertError(await api.post(`${fn}${link}`, "[]", { token }), 400, "invalid_json");
        assertError(
          await api.post(`${fn}${link}`, { pad: long(70_000) }, { token }),
          413,
          "payload_too_large",
        );
      });
    }

    await t.step("nothing was written: no guardian, no choice changed, nothing sent", async () => {
      const list = await api.get("guardians", { token: tokens.streamer });
      assert.equal(list.body.guardians.length, 3);
      const guardian = await api.get(`notification-preferences?link=${preferences}`);
      assert.deepEqual(guardian.body.guardian.notify, {
        streamStarted: true,
        streamEnded: false,
        recordingReady: true,
      });
      const mail = await (await fetch(`${server.url}/_dev/mail?format=json`)).json();
      assert.deepEqual(mail.emails, []);
      // The seed's two queued emails are still there, untouched by the refused calls.
      const drained = await api.post("send-notification", {}, { token: tokens.service });
      assert.deepEqual(drained.body, { sent: 2, retried: 0, failed: 0, suppressed: 0 });
      // All thirty invitations of the hour are still available: no refused call counted.
      const statuses: number[] = [];
      for (let i = 0; i < 30; i++) {
        const created = await api.post("guardians", { email: `kin-${i}@example.org` }, {
          token: tokens.streamer,
        });
        statuses.push(created.status);
      }
      assert.deepEqual(statuses, [...Array(8).fill(201), ...Array(22).fill(409)]);
    });
  } finally {
    await server.stop();
  }
});
