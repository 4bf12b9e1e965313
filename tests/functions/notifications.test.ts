/**
 * send-notification over HTTP through the local server: who may call it, real emails through
 * the SendGrid double whose links work against the other functions, local capture shown at
 * /_dev/mail, and the drain a function requests in the background after it queued an email.
 */
import assert from "node:assert/strict";
import { GUARDIAN_A_ROW, STREAMER_A } from "../../dev/seed_ids.ts";
import { apiClient, assertError } from "../support/api.ts";
import { startSendGridDouble } from "../support/sendgrid_double.ts";
import { startServer, testSecret } from "../support/stack.ts";
import { serviceToken, userToken } from "../support/tokens.ts";
import { unusedPort } from "../support/net.ts";

const VIEWER_URL = "https://viewer.example.test";

function linkIn(text: string, route: string): string {
  const match = new RegExp(`${VIEWER_URL}/#/${route}\\?link=([\\w.-]+)`).exec(text);
  assert.ok(match, `no ${route} link in:\n${text}`);
  return match[1];
}

Deno.test("send-notification answers only the service caller", async () => {
  const serviceRoleKey = testSecret();
  const server = await startServer({ env: { SUPABASE_SERVICE_ROLE_KEY: serviceRoleKey } });
  const api = apiClient(server.url);
  const secret = server.env.SUPABASE_JWT_SECRET;
  try {
    for (
      const token of [
        undefined,
        "garbage",
        await userToken(secret, STREAMER_A),
        await serviceToken(secret, { role: "anon" }),
        await serviceToken(testSecret()),
        await serviceToken(secret, { exp: 1 }),
      ]
    ) {
      assertError(await api.post("send-notification", {}, { token }), 401, "unauthorized");
    }
    const byJwt = await api.post("send-notification", { limit: 1 }, {
      token: await serviceToken(secret),
    });
    assert.equal(byJwt.status, 200);
    assert.deepEqual(byJwt.body, { sent: 1, retried: 0, failed: 0, suppressed: 0 });
    const byKey = await api.post("send-notification", {}, { token: serviceRoleKey });
    assert.deepEqual(byKey.body, { sent: 1, retried: 0, failed: 0, suppressed: 0 });
    const wrong = await api.get("send-notification", { token: serviceRoleKey });
    assertError(wrong, 405, "method_not_allowed");
    assert.equal(wrong.headers.get("allow"), "POST, OPTIONS");
  } finally {
    await server.stop();
  }
});

Deno.test("emails go out through SendGrid once each, and their links work", async () => {
  const double = startSendGridDouble();
  const server = await startServer({
    env: { ...double.env, VIEWER_URL, APP_NAME: "VR Stream" },
  });
  const api = apiClient(server.url);
  try {
    // Before the first request (PGlite serves one connection): a session of A goes live, as
    // the webhook would make it, and A's active guardian asks for "stream ended" emails too.
    const now = new Date();
    const [session] = await server.sql<{ id: string }[]>`
      insert into public.stream_sessions (id, streamer_id, title, room_name, record, created_at,
                                          updated_at)
      select s.id, ${STREAMER_A}, 'Beat Saber', 'session-' || s.id, false, ${now}, ${now}
        from (select gen_random_uuid() as id) s
      returning id`;
    await server.sql`
      update public.stream_sessions set status = 'live', started_at = ${now}, updated_at = ${now}
       where id = ${session.id}`;
    await server.sql`
      update public.guardians set notify_stream_ended = true where id = ${GUARDIAN_A_ROW}`;

    const a = await userToken(server.env.SUPABASE_JWT_SECRET, STREAMER_A);
    const service = await serviceToken(server.env.SUPABASE_JWT_SECRET);
    const invited = await api.post("guardians", { email: "aunt@example.org", name: "Aunt May" }, {
      token: a,
    });
    assert.equal(invited.status, 201);
    for (let i = 0; i < 2; i++) {
      const ended = await api.post("end-session", { sessionId: session.id }, { token: a });
      assert.equal(ended.status, 200);
    }

    const drained = await api.post("send-notification", {}, { token: service });
    assert.deepEqual(drained.body, { sent: 5, retried: 0, failed: 0, suppressed: 0 });
    const again = await api.post("send-notification", {}, { token: service });
    assert.deepEqual(again.body, { sent: 0, retried: 0, failed: 0, suppressed: 0 });
    assert.equal(double.messages.length, 5);
    assert.deepEqual(double.refused, []);

    const byKind = (kind: string) =>
      double.messages.filter((m) => m.body.custom_args.notification_kind === kind);
    assert.deepEqual(
      double.messages.map((m) => m.body.custom_args.notification_kind).sort(),
      ["approval", "consent", "recording_ready", "stream_ended", "stream_started"],
    );
    for (const message of double.messages) {
      assert.doesNotMatch(message.body.subject, /Beat Saber|Streamer A|Aunt/, "typed text");
    }
    assert.equal(new Set(double.messages.map((m) => m.notificationId)).size, 5);
    for (const message of double.messages) {
      assert.deepEqual(message.body.from, { email: "no-reply@vr.example", name: "VR Stream" });
      assert.deepEqual(message.body.content.map((part: { type: string }) => part.type), [
        "text/plain",
        "text/html",
      ]);
      assert.equal(message.body.tracking_settings.open_tracking.enable, false);
      assert.equal(message.body.tracking_settings.click_tracking.enable, false);
    }

    const [started] = byKind("stream_started");
    assert.equal(started.to, "parent@example.test");
    const watch = linkIn(started.body.content[0].value, "watch");
    const view = await api.get("streams", { headers: { "x-link-token": watch } });
    assert.equal(view.status, 200);
    assert.equal(view.body.session.id, session.id);

    const [ended] = byKind("stream_ended");
    assert.match(ended.body.content[0].value, /It lasted less than a minute\./);

    // The invitation went to the primary guardian alone; approving it sends the consent email.
    const [approval] = byKind("approval");
    assert.equal(approval.to, "parent@example.test");
    assert.equal(double.messages.filter((m) => m.to === "aunt@example.org").length, 0);
    const approved = await api.post("guardian-approval", {
      link: linkIn(approval.body.content[0].value, "approval"),
      decision: "approve",
    });
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    assert.equal(approved.body.guardian.status, "pending");
    const consentDrain = await api.post("send-notification", {}, { token: service });
    assert.deepEqual(consentDrain.body, { sent: 1, retried: 0, failed: 0, suppressed: 0 });
    const consent = byKind("consent").find((m) => m.to === "aunt@example.org")!;
    assert.equal(consent.body.personalizations[0].to[0].name, undefined, "no typed name");
    assert.equal(consent.body.headers, undefined, "a consent request has no unsubscribe");
    const confirmed = await api.post("guardian-consent", {
      link: linkIn(consent.body.content[0].value, "consent"),
    });
    assert.equal(confirmed.status, 200);
    assert.equal(confirmed.body.guardian.status, "active");

    // One-click unsubscribe exactly as a mail provider does it, at the header's URL.
    const header = started.body.headers["List-Unsubscribe"];
    assert.equal(started.body.headers["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click");
    const target = new URL(/^<(.+)>$/.exec(header)![1]);
    assert.equal(
      target.origin + target.pathname,
      `${server.env.SUPABASE_URL}/functions/v1/notification-preferences`,
    );
    const unsubscribed = await fetch(`${server.url}${target.pathname}${target.search}`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "List-Unsubscribe=One-Click",
    });
    const body = await unsubscribed.json();
    assert.equal(unsubscribed.status, 200);
    assert.equal(body.guardian.id, GUARDIAN_A_ROW);
    assert.deepEqual(body.guardian.notify, {
      streamStarted: false,
      streamEnded: false,
      recordingReady: false,
    });
    const logs = server.output().stdout;
    assert.doesNotMatch(logs, /aunt@example\.org|parent@example\.test/, "an address was logged");
    assert.ok(!logs.includes(watch), "a link token was logged");
  } finally {
    await server.stop();
    await double.close();
  }
});

Deno.test("without SENDGRID_API_KEY emails are kept and shown by the local server", async () => {
  const server = await startServer();
  const api = apiClient(server.url);
  try {
    const a = await userToken(server.env.SUPABASE_JWT_SECRET, STREAMER_A);
    const invited = await api.post("guardians", { email: "b@example.org" }, {
      token: a,
    });
    assert.equal(invited.status, 201);
    const drained = await api.post("send-notification", {}, {
      token: await serviceToken(server.env.SUPABASE_JWT_SECRET),
    });
    assert.deepEqual(drained.body, { sent: 3, retried: 0, failed: 0, suppressed: 0 });

    const list = await fetch(`${server.url}/_dev/mail?format=json`);
    const { emails } = await list.json();
    assert.equal(emails.length, 3);
    const consent = emails.find((email: { kind: string }) => email.kind === "approval");
    assert.equal(consent.to_address, "parent@example.test");
    assert.match(consent.text_body, /#\/approval\?link=/);
    assert.match(consent.from_address, /<no-reply@example\.test>$/);

    const page = await fetch(`${server.url}/_dev/mail`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /needs your approval/);
    const one = await fetch(`${server.url}/_dev/mail/${consent.id}`);
    const html = await one.text();
    assert.equal(one.status, 200);
    assert.match(html, /<iframe sandbox/);
    assert.ok(html.includes("&lt;!doctype html&gt;"), "the email's HTML is escaped into srcdoc");
    const missing = await fetch(`${server.url}/_dev/mail/${crypto.randomUUID()}`);
    await missing.body?.cancel();
    assert.equal(missing.status, 404);
  } finally {
    await server.stop();
  }
});

Deno.test("inviting a guardian emails the primary guardian in the background, with no drain called", async () => {
  const double = startSendGridDouble();
  const port = unusedPort();
  const server = await startServer({
    env: { ...double.env, FUNCTIONS_URL: `http://127.0.0.1:${port}/functions/v1` },
    args: ["--port", String(port)],
  });
  try {
    const api = apiClient(server.url);
    const a = await userToken(server.env.SUPABASE_JWT_SECRET, STREAMER_A);
    const started = performance.now();
    const invited = await api.post("guardians", { email: "cousin@example.org" }, { token: a });
    assert.equal(invited.status, 201);
    // The seed's two queued emails go out with it.
    const messages = await double.waitForMessages(3, 15_000);
    assert.ok(messages.some((message) =>
      message.to === "parent@example.test" &&
      message.body.custom_args.notification_kind === "approval"
    ));
    assert.ok(!messages.some((message) => message.to === "cousin@example.org"));
    assert.ok(performance.now() - started < 15_000);
    assert.equal(new Set(messages.map((message) => message.notificationId)).size, 3);
  } finally {
    await server.stop();
    await double.close();
  }
});
