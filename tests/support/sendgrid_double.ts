/**
 * A loopback double of SendGrid's v3 Mail Send API (`POST /v3/mail/send`), checking what the
 * real service checks: the API key (`Authorization: Bearer …`), then the body (personalizations
 * with recipients, a sender, a subject, content with text/plain before text/html, string-valued
 * headers that are not reserved, string-valued `custom_args` under 10,000 bytes, boolean
 * tracking settings), then the sender: a `from` that is not one of the account's verified
 * sender identities is `403` with SendGrid's message. It answers like SendGrid: `202` with
 * `X-Message-Id` and no body, or `{ errors: [{ message, field, help }] }`.
 *
 * Rate limits as SendGrid documents them: every authenticated answer carries
 * `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (Unix seconds, read from
 * the double's clock), and a request over the limit of the current window is `429` with
 * `{ errors: [{ field: null, message: "too many requests" }] }` and no `Retry-After`. It can
 * also be told to rate-limit every request, fail (`500`) or hang until closed.
 */
import { type Clock, systemClock } from "../../shared/kernel/clock.ts";

/** How the double answers a valid request. */
export type SendGridMode = "ok" | "rate_limited" | "fail" | "hang";

/** One email the double accepted (answered 202). */
export interface SentMessage {
  /** The `X-Message-Id` it answered. */
  messageId: string;
  /** The v3 body as received (snake_case, as on the wire). */
  // deno-lint-ignore no-explicit-any
  body: any;
  /** `custom_args.notification_id`, for finding a message by outbox row. */
  notificationId?: string;
  /** `personalizations[0].to[0].email`. */
  to: string;
  receivedAt: number;
}

/** A request the double refused, and why. */
export interface RefusedRequest {
  status: number;
  errors: { message: string; field: string | null }[];
}

/** Options of {@linkcode startSendGridDouble}. */
export interface SendGridDoubleOptions {
  /** The account's verified sender identities. @default {["no-reply@vr.example"]} */
  verifiedSenders?: string[];
  /** Requests per window before `429`. @default {{ limit: 600, windowSeconds: 60 }} */
  rateLimit?: { limit: number; windowSeconds: number };
  /** Where `X-RateLimit-Reset` is read from, as the mailer under test reads its own clock. */
  clock?: Clock;
}

/** A running double. */
export interface SendGridDouble {
  url: string;
  apiKey: string;
  /** `SENDGRID_API_KEY`, `SENDGRID_API_URL` and `EMAIL_FROM` for a server using the double. */
  env: Record<string, string>;
  /** Accepted emails, in order. */
  messages: SentMessage[];
  /** Requests answered with a 4xx because they were invalid. */
  refused: RefusedRequest[];
  /** Valid requests answered with 429 or 500, or left hanging. */
  unanswered: number;
  mode: SendGridMode;
  /** In mode `rate_limited`, how far `X-RateLimit-Reset` lies ahead, in seconds. @default 7 */
  retryAfterSeconds: number;
  /** The account's verified sender identities (lower case); others are refused with `403`. */
  verifiedSenders: Set<string>;
  /** Settles when `count` messages have been accepted, or rejects after `timeoutMs`. */
  waitForMessages(count: number, timeoutMs?: number): Promise<SentMessage[]>;
  close(): Promise<void>;
}

const RESERVED_HEADERS = new Set([
  "x-sg-id",
  "x-sg-eid",
  "received",
  "dkim-signature",
  "content-type",
  "content-transfer-encoding",
  "to",
  "from",
  "subject",
  "reply-to",
  "cc",
  "bcc",
]);

const TOP_LEVEL_FIELDS = new Set([
  "personalizations",
  "from",
  "reply_to",
  "reply_to_list",
  "subject",
  "content",
  "attachments",
  "template_id",
  "headers",
  "categories",
  "custom_args",
  "send_at",
  "batch_id",
  "asm",
  "ip_pool_name",
  "mail_settings",
  "tracking_settings",
]);

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
/** SendGrid's answer to a `from` that no verified sender identity covers (403). */
export const UNVERIFIED_SENDER_MESSAGE =
  "The from address does not match a verified Sender Identity. Mail cannot be sent until this " +
  "error is resolved. Visit https://sendgrid.com/docs/for-developers/sending-email/sender-identity/ " +
  "to see the Sender Identity requirements";
const HELP = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html";

type Problem = { message: string; field: string | null };

function errors(status: number, problems: Problem[], headers: HeadersInit = {}): Response {
  return Response.json(
    { errors: problems.map((problem) => ({ ...problem, help: HELP })) },
    { status, headers },
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function checkAddress(value: unknown, field: string, problems: Problem[]): void {
  if (!isObject(value) || typeof value.email !== "string") {
    problems.push({ message: "The email parameter is required.", field });
    return;
  }
  if (!EMAIL.test(value.email)) {
    problems.push({ message: "Does not contain a valid address.", field: `${field}.email` });
  }
  if (value.name !== undefined && typeof value.name !== "string") {
    problems.push({ message: "Invalid type. Expected: string.", field: `${field}.name` });
  }
}

function checkStringMap(value: unknown, field: string, problems: Problem[]): void {
  if (!isObject(value)) {
    problems.push({ message: "Invalid type. Expected: object.", field });
    return;
  }
  for (const [key, inner] of Object.entries(value)) {
    if (typeof inner !== "string") {
      problems.push({
        message: `Invalid type. Expected: string, given: ${typeof inner}.`,
        field: `${field}.${key}`,
      });
    }
  }
}

/** What SendGrid would refuse in a v3 body; empty when it is acceptable. */
export function checkMailSendBody(body: unknown): Problem[] {
  const problems: Problem[] = [];
  if (!isObject(body)) return [{ message: "Bad Request", field: null }];
  for (const key of Object.keys(body)) {
    if (!TOP_LEVEL_FIELDS.has(key)) problems.push({ message: "Unknown field.", field: key });
  }
  const personalizations = body.personalizations;
  if (!Array.isArray(personalizations) || personalizations.length === 0) {
    problems.push({
      message: "You must have at least one personalization.",
      field: "personalizations",
    });
  } else {
    personalizations.forEach((personalization, i) => {
      const field = `personalizations.${i}`;
      if (!isObject(personalization)) {
        problems.push({ message: "Invalid type. Expected: object.", field });
        return;
      }
      const to = personalization.to;
      if (!Array.isArray(to) || to.length === 0) {
        problems.push({
          message: "The to parameter is required for all personalization objects.",
          field: `${field}.to`,
        });
      } else {
        to.forEach((address, j) => checkAddress(address, `${field}.to.${j}`, problems));
      }
      if (personalization.headers !== undefined) {
        checkStringMap(personalization.headers, `${field}.headers`, problems);
      }
      if (personalization.custom_args !== undefined) {
        checkStringMap(personalization.custom_args, `${field}.custom_args`, problems);
      }
    });
  }
  checkAddress(body.from, "from", problems);
  const subjects = Array.isArray(personalizations) &&
    personalizations.every((p) => isObject(p) && typeof p.subject === "string" && p.subject);
  if (!(typeof body.subject === "string" && body.subject.length > 0) && !subjects) {
    problems.push({ message: "The subject is required.", field: "subject" });
  }
  const content = body.content;
  if (!Array.isArray(content) || content.length === 0) {
    if (body.template_id === undefined) {
      problems.push({
        message: "Unless a valid template_id is provided, the content parameter is required.",
        field: "content",
      });
    }
  } else {
    const types = content.map((part) => (isObject(part) ? part.type : undefined));
    content.forEach((part, i) => {
      if (!isObject(part) || typeof part.type !== "string" || !part.type) {
        problems.push({ message: "The content type is required.", field: `content.${i}.type` });
      } else if (typeof part.value !== "string" || part.value.length === 0) {
        problems.push({
          message: "The content value must be a string at least one character in length.",
          field: `content.${i}.value`,
        });
      }
    });
    const plain = types.indexOf("text/plain");
    const html = types.indexOf("text/html");
    const htmlPlace = plain === 0 ? 1 : 0;
    if ((plain !== -1 && plain !== 0) || (html !== -1 && html !== htmlPlace)) {
      problems.push({
        message:
          "If present, text/plain content must be first, followed by text/html, followed by any other content.",
        field: "content",
      });
    }
  }
  if (body.headers !== undefined) {
    checkStringMap(body.headers, "headers", problems);
    if (isObject(body.headers)) {
      for (const name of Object.keys(body.headers)) {
        if (RESERVED_HEADERS.has(name.toLowerCase())) {
          problems.push({ message: `The following header is reserved: ${name}`, field: "headers" });
        }
      }
    }
  }
  if (body.custom_args !== undefined) {
    checkStringMap(body.custom_args, "custom_args", problems);
    if (new TextEncoder().encode(JSON.stringify(body.custom_args)).length > 10_000) {
      problems.push({
        message: "The total size of custom arguments may not exceed 10,000 bytes.",
        field: "custom_args",
      });
    }
  }
  if (body.tracking_settings !== undefined) {
    const settings = body.tracking_settings;
    if (!isObject(settings)) {
      problems.push({ message: "Invalid type. Expected: object.", field: "tracking_settings" });
    } else {
      for (const [name, setting] of Object.entries(settings)) {
        if (
          !isObject(setting) ||
          (setting.enable !== undefined && typeof setting.enable !== "boolean")
        ) {
          problems.push({
            message: "Invalid type. Expected: boolean.",
            field: `tracking_settings.${name}.enable`,
          });
        }
      }
    }
  }
  return problems;
}

function messageId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes)).replace(/[+/=]/g, "").slice(0, 22);
}

/** Starts the double on 127.0.0.1 with a fresh API key. */
export function startSendGridDouble(options: SendGridDoubleOptions = {}): SendGridDouble {
  const apiKey = `SG.${crypto.randomUUID().replaceAll("-", "")}.${crypto.randomUUID()}`;
  const hanging = new Set<() => void>();
  const waiters = new Set<() => void>();
  const clock = options.clock ?? systemClock;
  const limit = options.rateLimit ?? { limit: 600, windowSeconds: 60 };
  let window = { resetAt: 0, used: 0 };

  /** Counts one request against the current window: its headers, and whether it is over. */
  function countRequest(): { headers: Record<string, string>; over: boolean } {
    const now = Math.floor(clock.now().getTime() / 1000);
    if (double.mode === "rate_limited") {
      return {
        over: true,
        headers: rateHeaders(0, now + double.retryAfterSeconds),
      };
    }
    if (now >= window.resetAt) window = { resetAt: now + limit.windowSeconds, used: 0 };
    window.used++;
    const over = window.used > limit.limit;
    return { over, headers: rateHeaders(Math.max(0, limit.limit - window.used), window.resetAt) };
  }

  function rateHeaders(remaining: number, resetAt: number): Record<string, string> {
    return {
      "x-ratelimit-limit": String(limit.limit),
      "x-ratelimit-remaining": String(remaining),
      "x-ratelimit-reset": String(resetAt),
    };
  }

  async function handle(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (path !== "/v3/mail/send") {
      return errors(404, [{ message: "Not Found", field: null }]);
    }
    if (request.method !== "POST") {
      return errors(405, [{ message: "Method Not Allowed", field: null }]);
    }
    if (request.headers.get("authorization") !== `Bearer ${apiKey}`) {
      const refusal = {
        message: "The provided authorization grant is invalid, expired, or revoked",
        field: null,
      };
      double.refused.push({ status: 401, errors: [refusal] });
      return errors(401, [refusal]);
    }
    const rate = countRequest();
    if (rate.over) {
      double.unanswered++;
      await request.body?.cancel();
      return errors(429, [{ message: "too many requests", field: null }], rate.headers);
    }
    const contentType = request.headers.get("content-type") ?? "";
    if (!contentType.toLowerCase().startsWith("application/json")) {
      const refusal = { message: "Content-Type should be application/json.", field: null };
      double.refused.push({ status: 415, errors: [refusal] });
      return errors(415, [refusal], rate.headers);
    }
    let body: unknown;
    try {
      body = JSON.parse(await request.text());
    } catch {
      const refusal = { message: "Bad Request", field: null };
      double.refused.push({ status: 400, errors: [refusal] });
      return errors(400, [refusal], rate.headers);
    }
    const problems = checkMailSendBody(body);
    if (problems.length > 0) {
      double.refused.push({ status: 400, errors: problems });
      return errors(400, problems, rate.headers);
    }
    // deno-lint-ignore no-explicit-any
    const sender = String((body as any).from.email).toLowerCase();
    if (!double.verifiedSenders.has(sender)) {
      const refusal = { message: UNVERIFIED_SENDER_MESSAGE, field: "from" };
      double.refused.push({ status: 403, errors: [refusal] });
      return errors(403, [refusal], rate.headers);
    }
    if (double.mode === "fail") {
      double.unanswered++;
      return errors(500, [{ message: "internal error", field: null }], rate.headers);
    }
    if (double.mode === "hang") {
      double.unanswered++;
      await new Promise<void>((resolve) => hanging.add(resolve));
      return errors(503, [{ message: "released", field: null }]);
    }
    // deno-lint-ignore no-explicit-any
    const mail = body as any;
    const id = messageId();
    double.messages.push({
      messageId: id,
      body: mail,
      notificationId: mail.custom_args?.notification_id ??
        mail.personalizations[0].custom_args?.notification_id,
      to: mail.personalizations[0].to[0].email,
      receivedAt: performance.now(),
    });
    for (const wake of waiters) wake();
    // Closing each connection keeps shutdown() from waiting on idle keep-alive connections,
    // which Deno 2.1 (the edge runtime's) otherwise does for minutes.
    return new Response(null, {
      status: 202,
      headers: { ...rate.headers, "x-message-id": id, connection: "close" },
    });
  }

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handle);
  const url = `http://127.0.0.1:${server.addr.port}`;
  const double: SendGridDouble = {
    url,
    apiKey,
    env: { SENDGRID_API_KEY: apiKey, SENDGRID_API_URL: url, EMAIL_FROM: "no-reply@vr.example" },
    messages: [],
    refused: [],
    unanswered: 0,
    mode: "ok",
    retryAfterSeconds: 7,
    verifiedSenders: new Set(
      (options.verifiedSenders ?? ["no-reply@vr.example"]).map((email) => email.toLowerCase()),
    ),
    waitForMessages(count, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (double.messages.length < count) return false;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(double.messages.slice(0, count));
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`The SendGrid double got ${double.messages.length} of ${count} emails`));
        }, timeoutMs);
        if (!check()) waiters.add(check);
      });
    },
    async close() {
      for (const release of hanging) release();
      await server.shutdown();
    },
  };
  return double;
}
