/**
 * How send-notification hands emails to SendGrid and what it makes of the answers: the backoff
 * schedule, `Retry-After`, and the classification of every answer of the SendGrid double
 * through the real `@sendgrid/mail` SDK.
 */
import assert from "node:assert/strict";
import { fixedClock } from "../../shared/kernel/clock.ts";
import {
  MAX_ATTEMPTS,
  parseRetryAfter,
  RETRY_BASE_SECONDS,
  RETRY_CAP_SECONDS,
  retryDelaySeconds,
} from "../../supabase/functions/send-notification/backoff.ts";
import {
  createSendGridMailer,
  DeliveryError,
  type OutgoingEmail,
} from "../../supabase/functions/send-notification/mailer.ts";
import { startSendGridDouble } from "../support/sendgrid_double.ts";

const clock = fixedClock("2026-11-22T10:00:00Z");
const HELP_URL = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html";

function email(overrides: Partial<OutgoingEmail> = {}): OutgoingEmail {
  return {
    notification: { id: "a1a1a1a1-0000-4000-8000-000000000001", kind: "stream_started" },
    to: { email: "parent@example.test", name: "Parent" },
    from: { email: "no-reply@vr.example", name: "VR Stream" },
    subject: "Sam is live",
    text: "Sam is live.",
    html: "<p>Sam is live.</p>",
    headers: {
      "List-Unsubscribe": "<https://p.supabase.co/functions/v1/notification-preferences?link=x>",
      "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    },
    customArgs: { notification_id: "a1a1a1a1-0000-4000-8000-000000000001" },
    ...overrides,
  };
}

async function failure(promise: Promise<unknown>): Promise<DeliveryError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof DeliveryError, String(error));
    return error;
  }
  assert.fail("the send succeeded");
}

Deno.test("retries back off exponentially with jitter up to a cap", () => {
  const low = () => 0;
  const high = () => 0.999999;
  assert.equal(retryDelaySeconds(1, { random: low }), RETRY_BASE_SECONDS / 2);
  assert.equal(retryDelaySeconds(1, { random: high }), RETRY_BASE_SECONDS);
  assert.equal(retryDelaySeconds(2, { random: low }), RETRY_BASE_SECONDS);
  assert.equal(retryDelaySeconds(4, { random: high }), RETRY_BASE_SECONDS * 8);
  assert.equal(retryDelaySeconds(20, { random: high }), RETRY_CAP_SECONDS);
  assert.equal(retryDelaySeconds(20, { random: low }), RETRY_CAP_SECONDS / 2);
  // The worst case of all retries still covers a long outage before a row fails.
  let total = 0;
  for (let attempt = 1; attempt < MAX_ATTEMPTS; attempt++) {
    total += retryDelaySeconds(attempt, { random: low });
  }
  assert.ok(total >= 4 * 3600, `only ${total} s of retries`);
});

Deno.test("a Retry-After is honoured, in seconds or as a date, within a day", () => {
  const now = new Date("2026-11-22T10:00:00Z");
  assert.equal(retryDelaySeconds(1, { random: () => 0, retryAfterSeconds: 120 }), 120);
  assert.equal(retryDelaySeconds(3, { random: () => 0, retryAfterSeconds: 5 }), 60);
  assert.equal(retryDelaySeconds(1, { random: () => 0, retryAfterSeconds: 10 ** 9 }), 86400);
  assert.equal(parseRetryAfter("7", now), 7);
  assert.equal(parseRetryAfter("Sun, 22 Nov 2026 10:01:30 GMT", now), 90);
  assert.equal(parseRetryAfter("Sun, 22 Nov 2026 09:00:00 GMT", now), 0);
  assert.equal(parseRetryAfter("soon", now), undefined);
  assert.equal(parseRetryAfter(null, now), undefined);
});

Deno.test("the SDK's request passes the double's checks and returns the X-Message-Id", async () => {
  const double = startSendGridDouble();
  try {
    const mailer = createSendGridMailer({ apiKey: double.apiKey, apiUrl: double.url, clock });
    const { messageId } = await mailer.send(email());
    assert.equal(double.messages.length, 1);
    const [message] = double.messages;
    assert.equal(messageId, message.messageId);
    assert.deepEqual(message.body.content.map((part: { type: string }) => part.type), [
      "text/plain",
      "text/html",
    ]);
    assert.deepEqual(message.body.tracking_settings, {
      click_tracking: { enable: false, enable_text: false },
      open_tracking: { enable: false },
      subscription_tracking: { enable: false },
      ganalytics: { enable: false },
    });
    assert.equal(message.body.headers["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click");
    assert.equal(message.notificationId, "a1a1a1a1-0000-4000-8000-000000000001");
  } finally {
    await double.close();
  }
});

Deno.test("429, 5xx, a refused key and network trouble may pass later; a bad email never", async () => {
  const double = startSendGridDouble({ clock });
  try {
    const mailer = createSendGridMailer({
      apiKey: double.apiKey,
      apiUrl: double.url,
      timeoutMs: 300,
      clock,
    });

    double.mode = "rate_limited";
    const limited = await failure(mailer.send(email()));
    assert.equal(limited.permanent, false);
    // SendGrid sends no Retry-After: the wait is X-RateLimit-Reset less the mailer's clock.
    assert.equal(limited.retryAfterSeconds, 7);
    assert.match(limited.message, /429: too many requests/);

    double.mode = "fail";
    const failed = await failure(mailer.send(email()));
    assert.equal(failed.permanent, false);
    assert.match(failed.message, /500/);

    double.mode = "hang";
    const started = performance.now();
    const hung = await failure(mailer.send(email()));
    assert.equal(hung.permanent, false);
    assert.ok(performance.now() - started < 3000, "the timeout did not bound the call");

    double.mode = "ok";
    const invalid = await failure(mailer.send(email({ to: { email: "kid@localhost" } })));
    assert.equal(invalid.permanent, true);
    assert.match(invalid.message, /400: Does not contain a valid address/);
    assert.doesNotMatch(invalid.message, /kid@localhost/);

    const wrongKey = createSendGridMailer({
      apiKey: "SG.not-the-key-of-this-account",
      apiUrl: double.url,
      clock,
    });
    const refused = await failure(wrongKey.send(email()));
    assert.equal(refused.permanent, false, "a key problem is fixed by us, not by the email");
    assert.match(refused.message, /401/);
    // Nothing got through, not even the call that timed out (resent by a keep-alive client).
    assert.equal(double.messages.length, 0);
  } finally {
    await double.close();
  }
  const closed = createSendGridMailer({ apiKey: double.apiKey, apiUrl: double.url, clock });
  const unreachable = await failure(closed.send(email()));
  assert.equal(unreachable.permanent, false);
  assert.match(unreachable.message, /unreachable/);
});

Deno.test("the double refuses what SendGrid refuses", async () => {
  const double = startSendGridDouble();
  const valid = {
    personalizations: [{ to: [{ email: "parent@example.test" }] }],
    from: { email: "no-reply@vr.example", name: "VR Stream" },
    subject: "Hello",
    content: [{ type: "text/plain", value: "Hi" }, { type: "text/html", value: "<p>Hi</p>" }],
    custom_args: { notification_id: "1" },
  };
  const send = (body: unknown, key = double.apiKey) =>
    fetch(`${double.url}/v3/mail/send`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    }).then(async (response) => ({ status: response.status, body: await response.text() }));
  try {
    assert.equal((await send(valid, "SG.wrong")).status, 401);
    const refusals: [string, unknown, RegExp][] = [
      ["HTML before text", {
        ...valid,
        content: [valid.content[1], valid.content[0]],
      }, /text\/plain content must be first/],
      ["a number in custom_args", {
        ...valid,
        custom_args: { id: 1 },
      }, /custom_args\.id/],
      ["a reserved header", { ...valid, headers: { "X-SG-ID": "x" } }, /reserved/],
      ["no subject", { ...valid, subject: "" }, /subject is required/],
      ["no recipient", { ...valid, personalizations: [{ to: [] }] }, /to parameter/],
      ["a bad sender", { ...valid, from: { email: "nobody" } }, /from\.email/],
      ["empty content", {
        ...valid,
        content: [{ type: "text/plain", value: "" }],
      }, /at least one character/],
      ["an unknown field", { ...valid, trackingSettings: {} }, /trackingSettings/],
    ];
    for (const [what, body, pattern] of refusals) {
      const answer = await send(body);
      assert.equal(answer.status, 400, what);
      assert.match(answer.body, pattern, what);
    }
    assert.equal(double.messages.length, 0);
    const accepted = await fetch(`${double.url}/v3/mail/send`, {
      method: "POST",
      headers: { authorization: `Bearer ${double.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify(valid),
    });
    await accepted.body?.cancel();
    assert.equal(accepted.status, 202);
    assert.ok(accepted.headers.get("x-message-id"));
    assert.equal(accepted.headers.get("x-ratelimit-limit"), "600");
    // Every authenticated request counts, refused ones too: 8 refusals, then this one.
    assert.equal(accepted.headers.get("x-ratelimit-remaining"), "591");
    assert.match(accepted.headers.get("x-ratelimit-reset") ?? "", /^\d+$/);

    const unverified = await send({ ...valid, from: { email: "someone-else@vr.example" } });
    assert.equal(unverified.status, 403);
    assert.deepEqual(JSON.parse(unverified.body).errors.map((e: { field: string }) => e.field), [
      "from",
    ]);
    assert.match(unverified.body, /does not match a verified Sender Identity/);

    double.mode = "rate_limited";
    const limited = await fetch(`${double.url}/v3/mail/send`, {
      method: "POST",
      headers: { authorization: `Bearer ${double.apiKey}`, "content-type": "application/json" },
      body: JSON.stringify(valid),
    });
    assert.equal(limited.status, 429);
    assert.deepEqual(await limited.json(), {
      errors: [{ field: null, message: "too many requests", help: HELP_URL }],
    });
    assert.equal(limited.headers.get("retry-after"), null, "SendGrid sends no Retry-After");
    assert.equal(limited.headers.get("x-ratelimit-remaining"), "0");
    assert.equal(double.messages.length, 1);
  } finally {
    await double.close();
  }
});

Deno.test("an unverified sender is SendGrid's 403, which the mailer keeps for a later attempt", async () => {
  const double = startSendGridDouble({ verifiedSenders: ["alerts@vr.example"], clock });
  try {
    const mailer = createSendGridMailer({ apiKey: double.apiKey, apiUrl: double.url, clock });
    const refused = await failure(mailer.send(email()));
    // Verifying the sender is ours to do, not the email's: the outbox tries it again later.
    assert.equal(refused.permanent, false);
    assert.equal(refused.retryAfterSeconds, undefined);
    assert.match(refused.message, /^SendGrid answered 403: The from address does not match/);
    assert.match(refused.message, /\(from\)$/);
    assert.equal(double.messages.length, 0);
    assert.deepEqual(double.refused.map((refusal) => refusal.status), [403]);

    double.verifiedSenders.add("no-reply@vr.example");
    await mailer.send(email());
    assert.equal(double.messages.length, 1, "once the sender is verified it goes out");
  } finally {
    await double.close();
  }
});

Deno.test("over SendGrid's rate limit the mailer waits until X-RateLimit-Reset", async () => {
  const moving = fixedClock("2026-11-22T10:00:00Z");
  const double = startSendGridDouble({ rateLimit: { limit: 2, windowSeconds: 60 }, clock: moving });
  try {
    const mailer = createSendGridMailer({
      apiKey: double.apiKey,
      apiUrl: double.url,
      clock: moving,
    });
    await mailer.send(email());
    moving.advance(20);
    await mailer.send(email());
    moving.advance(5);
    const limited = await failure(mailer.send(email()));
    assert.equal(limited.permanent, false);
    assert.equal(limited.retryAfterSeconds, 35, "the window opened 60 s before its reset");
    assert.equal(double.messages.length, 2);

    moving.advance(35);
    await mailer.send(email());
    assert.equal(double.messages.length, 3, "a new window admits it");
  } finally {
    await double.close();
  }
});
