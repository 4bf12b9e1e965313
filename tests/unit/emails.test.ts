/**
 * The five guardian emails against stored snapshots (tests/fixtures/emails/), rendered with a
 * fixed clock, fixed ids and a fixed link secret so every token is the same on every run.
 * `UPDATE_SNAPSHOTS=1 deno test -A tests/unit/emails.test.ts` rewrites them; review the diff.
 */
import assert from "node:assert/strict";
import { fixedClock } from "../../shared/kernel/clock.ts";
import { createLinkSigner } from "../../shared/kernel/link.ts";
import type { OutgoingEmail } from "../../supabase/functions/send-notification/mailer.ts";
import {
  escapeHtml,
  formatDuration,
  formatTime,
  type Notification,
  renderNotification,
  type RenderSettings,
} from "../../supabase/functions/send-notification/render.ts";
import { checkMailSendBody } from "../support/sendgrid_double.ts";

const FIXTURES = new URL("../fixtures/emails/", import.meta.url);
const UPDATE = Deno.env.get("UPDATE_SNAPSHOTS") === "1";
const SECRET = "snapshot-link-secret-with-more-than-32-characters";
const NOW = "2026-11-22T10:00:00Z";

const GUARDIAN = {
  id: "44444444-4444-4444-8444-444444444444",
  email: "parent@example.test",
};
const SESSION = {
  id: "88888888-8888-4888-8888-888888888888",
  title: "Beat Saber, expert",
  startedAt: new Date("2026-11-22T09:00:05Z"),
  endedAt: new Date("2026-11-22T10:05:35Z"),
  durationSeconds: 3930,
};

function settings(): RenderSettings {
  return {
    appName: "VR Stream",
    from: "no-reply@vr.example",
    viewerUrl: "https://viewer.vr.example",
    functionsUrl: "https://project.supabase.co/functions/v1",
    links: createLinkSigner(SECRET, fixedClock(NOW)),
  };
}

const NOTIFICATIONS: Record<string, Notification> = {
  approval: {
    id: "a1a1a1a1-0000-4000-8000-000000000005",
    kind: "approval",
    guardian: { ...GUARDIAN, name: "Alex Parent" },
    streamerName: "Sam",
    invitee: {
      id: "77777777-7777-4777-8777-777777777777",
      email: "grandma.jo@example.org",
      name: "Grandma Jo",
    },
  },
  consent: {
    id: "a1a1a1a1-0000-4000-8000-000000000001",
    kind: "consent",
    guardian: { ...GUARDIAN, name: "Alex Parent" },
    streamerName: "Sam",
  },
  stream_started: {
    id: "a1a1a1a1-0000-4000-8000-000000000002",
    kind: "stream_started",
    guardian: { ...GUARDIAN, name: "Alex Parent" },
    streamerName: "Sam",
    session: { ...SESSION, endedAt: null, durationSeconds: null },
  },
  stream_ended: {
    id: "a1a1a1a1-0000-4000-8000-000000000003",
    kind: "stream_ended",
    guardian: { ...GUARDIAN, name: null },
    streamerName: "Sam",
    session: SESSION,
  },
  recording_ready: {
    id: "a1a1a1a1-0000-4000-8000-000000000004",
    kind: "recording_ready",
    guardian: { ...GUARDIAN, name: "Alex Parent" },
    streamerName: "Sam",
    session: SESSION,
    recording: {
      id: "99999999-9999-4999-8999-999999999999",
      durationSeconds: 3925,
    },
  },
};

/** The email as a person would read its source: envelope, headers, then both parts. */
function snapshot(email: OutgoingEmail): string {
  const lines = [
    `From: ${email.from.name} <${email.from.email}>`,
    `To: ${email.to.name ? `${email.to.name} ` : ""}<${email.to.email}>`,
    `Subject: ${email.subject}`,
    ...Object.entries(email.headers).map(([name, value]) => `${name}: ${value}`),
    ...Object.entries(email.customArgs).map(([name, value]) => `X-Custom-Arg-${name}: ${value}`),
    "",
    "--- text/plain",
    email.text,
    "--- text/html",
    email.html,
  ];
  return lines.join("\n");
}

for (const [name, notification] of Object.entries(NOTIFICATIONS)) {
  Deno.test(`the ${name} email matches its snapshot`, async () => {
    const email = await renderNotification(notification, settings());
    const actual = snapshot(email);
    const file = new URL(`${name}.txt`, FIXTURES);
    if (UPDATE) {
      await Deno.mkdir(FIXTURES, { recursive: true });
      await Deno.writeTextFile(file, actual);
    }
    const expected = await Deno.readTextFile(file);
    assert.equal(
      actual,
      expected,
      `${name} differs from tests/fixtures/emails/${name}.txt`,
    );
  });
}

Deno.test("every email is a body SendGrid accepts, with text before HTML and no tracking", async () => {
  for (const notification of Object.values(NOTIFICATIONS)) {
    const email = await renderNotification(notification, settings());
    const body = {
      personalizations: [{ to: [email.to] }],
      from: email.from,
      subject: email.subject,
      content: [{ type: "text/plain", value: email.text }, {
        type: "text/html",
        value: email.html,
      }],
      headers: Object.keys(email.headers).length > 0 ? email.headers : undefined,
      custom_args: email.customArgs,
    };
    assert.deepEqual(checkMailSendBody(JSON.parse(JSON.stringify(body))), []);
    assert.doesNotMatch(
      email.html,
      /<img|<script|<link|url\(/i,
      "images, scripts or remote styles",
    );
    assert.deepEqual(email.customArgs, {
      notification_id: notification.id,
      notification_kind: notification.kind,
    });
  }
});

Deno.test("links carry their token in the fragment, and stream emails offer one-click unsubscribe", async () => {
  const signer = createLinkSigner(SECRET, fixedClock(NOW));
  const expectedTypes: Record<string, string> = {
    approval: "approval",
    consent: "consent",
    stream_started: "watch",
    recording_ready: "recording",
  };
  for (const [name, notification] of Object.entries(NOTIFICATIONS)) {
    const email = await renderNotification(notification, settings());
    const links = [
      ...email.text.matchAll(
        /https:\/\/viewer\.vr\.example\/#\/(\w+)\?link=(\S+)/g,
      ),
    ];
    assert.ok(links.length > 0, `${name} has no viewer link`);
    for (const [, route, token] of links) {
      const type = route as
        | "watch"
        | "recording"
        | "consent"
        | "preferences"
        | "approval";
      const claims = await signer.verify(token, type);
      assert.equal(claims.guardianId, GUARDIAN.id);
      assert.ok(
        email.html.includes(token),
        `${name}: the HTML part lacks the ${route} link`,
      );
    }
    const routes = links.map(([, route]) => route);
    if (expectedTypes[name]) {
      assert.ok(routes.includes(expectedTypes[name]), `${name}: ${routes}`);
    }
    if (name === "consent" || name === "approval") {
      assert.deepEqual(
        email.headers,
        {},
        `a ${name} request has no list to leave`,
      );
      continue;
    }
    assert.ok(
      routes.includes("preferences"),
      `${name} has no preferences link`,
    );
    const unsubscribe =
      /^<(https:\/\/project\.supabase\.co\/functions\/v1\/notification-preferences\?link=([^>]+))>$/
        .exec(email.headers["List-Unsubscribe"]);
    assert.ok(unsubscribe, email.headers["List-Unsubscribe"]);
    const claims = await signer.verify(unsubscribe[2], "preferences");
    assert.equal(claims.objectId, GUARDIAN.id);
    assert.equal(
      email.headers["List-Unsubscribe-Post"],
      "List-Unsubscribe=One-Click",
    );
  }
});

Deno.test("what a streamer or guardian typed is escaped in HTML and kept on one line", async () => {
  const hostile: Notification = {
    ...NOTIFICATIONS.stream_started,
    guardian: { ...GUARDIAN, name: 'Eve <img src="x">\r\nBcc: all' },
    streamerName: "<script>alert(1)</script>",
    session: {
      ...NOTIFICATIONS.stream_started.session!,
      title: 'A "title" & <b>bold</b>\nBcc: x',
    },
  };
  const email = await renderNotification(hostile, settings());
  assert.doesNotMatch(email.html, /<script|<img|<b>/);
  assert.ok(email.html.includes("&lt;script&gt;alert(1)&lt;/script&gt;"));
  assert.ok(
    email.html.includes(
      "A &quot;title&quot; &amp; &lt;b&gt;bold&lt;/b&gt; Bcc: x",
    ),
  );
  assert.doesNotMatch(email.subject, /[\r\n]/);
  assert.doesNotMatch(email.to.name ?? "", /[\r\n]/);
  assert.equal(escapeHtml(`'"<>&`), "&#39;&quot;&lt;&gt;&amp;");
});

Deno.test("no subject carries text a streamer or guardian typed", async () => {
  const typed = "Win a prize at evil.example";
  for (const [name, notification] of Object.entries(NOTIFICATIONS)) {
    const email = await renderNotification({
      ...notification,
      guardian: { ...notification.guardian, name: typed },
      streamerName: typed,
      session: notification.session &&
        { ...notification.session, title: typed },
      invitee: notification.invitee && { ...notification.invitee, name: typed },
    }, settings());
    assert.doesNotMatch(
      email.subject,
      /prize|evil/,
      `${name}: ${email.subject}`,
    );
    assert.ok(email.subject.includes("VR Stream"), `${name}: ${email.subject}`);
  }
});

Deno.test("the approval email names the invitee and links the primary guardian's decision", async () => {
  const signer = createLinkSigner(SECRET, fixedClock(NOW));
  const email = await renderNotification(NOTIFICATIONS.approval, settings());
  assert.ok(email.text.includes("Grandma Jo (grandma.jo@example.org)"));
  const [, token] = /#\/approval\?link=(\S+)/.exec(email.text)!;
  const claims = await signer.verify(token, "approval");
  assert.deepEqual([claims.guardianId, claims.objectId], [
    GUARDIAN.id,
    NOTIFICATIONS.approval.invitee!.id,
  ]);
});

Deno.test("times and durations read the same on every runtime", () => {
  assert.equal(
    formatTime(new Date("2026-01-05T08:03:00Z")),
    "5 Jan 2026, 08:03 UTC",
  );
  assert.equal(formatDuration(20), "less than a minute");
  assert.equal(formatDuration(60), "1 minute");
  assert.equal(formatDuration(1800), "30 minutes");
  assert.equal(formatDuration(3600), "1 hour");
  assert.equal(formatDuration(3930), "1 hour 6 minutes");
  assert.equal(formatDuration(7260), "2 hours 1 minute");
});
