/**
 * Handing an email over: to SendGrid through `@sendgrid/mail` (imported on first use, so an
 * isolate that sends nothing never loads it), or, without `SENDGRID_API_KEY`, into the
 * `captured_emails` table for local runs. Failures become a {@linkcode DeliveryError} that says
 * whether trying again can help.
 */
import type { Clock } from "../../../shared/kernel/clock.ts";
import type { Database } from "../../../shared/kernel/db.ts";
import { redactText } from "../../../shared/kernel/log.ts";
import { parseRetryAfter } from "./backoff.ts";

/** One rendered email, ready to hand over. */
export interface OutgoingEmail {
  /** Which notification it is (outbox id and kind), also sent as SendGrid `custom_args`. */
  notification: { id: string; kind: string };
  to: { email: string; name?: string };
  from: { email: string; name: string };
  subject: string;
  text: string;
  html: string;
  headers: Record<string, string>;
  customArgs: Record<string, string>;
}

/** Hands emails over; returns the provider's message id. */
export interface Mailer {
  /** `sendgrid` or `capture`, for logs and health. */
  readonly kind: "sendgrid" | "capture";
  send(email: OutgoingEmail): Promise<{ messageId: string }>;
}

/** An email that was not handed over, and whether another attempt may succeed. */
export class DeliveryError extends Error {
  /** True for a 4xx about the email itself: trying again cannot help. */
  readonly permanent: boolean;
  /** What the provider asked for (429 `Retry-After`). */
  readonly retryAfterSeconds?: number;

  constructor(
    message: string,
    options: {
      permanent: boolean;
      retryAfterSeconds?: number;
      cause?: unknown;
    },
  ) {
    super(redactText(message).slice(0, 500), { cause: options.cause });
    this.name = "DeliveryError";
    this.permanent = options.permanent;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** Options of {@linkcode createSendGridMailer}. */
export interface SendGridMailerOptions {
  apiKey: string;
  /** API base URL, such as `https://api.sendgrid.com` or a test double's. */
  apiUrl: string;
  /** Longest wait for one call. @default {10000} */
  timeoutMs?: number;
  clock: Clock;
}

/** The slice of `@sendgrid/mail`'s MailService this module uses. */
interface MailServiceLike {
  setApiKey(key: string): void;
  setTimeout(milliseconds: number): void;
  client: { setDefaultRequest(key: string, value: unknown): unknown };
  send(
    data: Record<string, unknown>,
  ): Promise<[{ statusCode: number; headers: unknown }, unknown]>;
}

/** Sends through SendGrid's v3 Mail Send API with the official SDK. */
export function createSendGridMailer(options: SendGridMailerOptions): Mailer {
  let service: Promise<MailServiceLike> | undefined;

  async function load(): Promise<MailServiceLike> {
    const sdk = await import("@sendgrid/mail");
    // Its typings declare only the default singleton; the class is exported beside it.
    const { MailService } = sdk as unknown as {
      MailService: new () => MailServiceLike;
    };
    const created = new MailService();
    created.setApiKey(options.apiKey);
    // setApiKey resets the base URL to SendGrid's global region, so it is set afterwards.
    created.client.setDefaultRequest(
      "baseUrl",
      `${options.apiUrl.replace(/\/+$/, "")}/`,
    );
    created.setTimeout(options.timeoutMs ?? 10_000);
    // axios's fetch adapter, not its node:http one: on Deno the latter re-sends a POST that
    // timed out over the next keep-alive connection, which would deliver the email twice.
    created.client.setDefaultRequest("adapter", "fetch");
    return created;
  }

  return {
    kind: "sendgrid",
    async send(email) {
      service ??= load().catch((error) => {
        service = undefined;
        throw error;
      });
      let mail: MailServiceLike;
      try {
        mail = await service;
      } catch (error) {
        throw new DeliveryError("Cannot load the SendGrid SDK", {
          permanent: false,
          cause: error,
        });
      }
      let response: { statusCode: number; headers: unknown };
      try {
        [response] = await mail.send({
          to: email.to,
          from: email.from,
          subject: email.subject,
          text: email.text,
          html: email.html,
          headers: email.headers,
          customArgs: email.customArgs,
          // Nothing in these emails is tracked: no open pixel, no rewritten links, no footer.
          trackingSettings: {
            clickTracking: { enable: false, enableText: false },
            openTracking: { enable: false },
            subscriptionTracking: { enable: false },
            ganalytics: { enable: false },
          },
        });
      } catch (error) {
        throw toDeliveryError(error, options.clock.now());
      }
      const messageId = header(response.headers, "x-message-id");
      if (!messageId) {
        // Accepted all the same: SendGrid queued it, so it must not be sent again.
        return { messageId: `sendgrid-${response.statusCode}-without-id` };
      }
      return { messageId };
    },
  };
}

function header(headers: unknown, name: string): string | undefined {
  if (!headers || typeof headers !== "object") return undefined;
  const get = (headers as { get?: unknown }).get;
  if (typeof get === "function") {
    const value = get.call(headers, name);
    if (typeof value === "string" && value) return value;
  }
  for (
    const [key, value] of Object.entries(headers as Record<string, unknown>)
  ) {
    if (key.toLowerCase() === name && value != null) return String(value);
  }
  return undefined;
}

interface SendGridErrorLike {
  code?: unknown;
  message?: unknown;
  response?: { headers?: unknown; body?: unknown };
}

/**
 * What a failed `send` means: 429, 5xx, 401/403 (a key problem is ours to fix, not the
 * email's) and network errors may pass later; any other 4xx is about the email and never will.
 */
export function toDeliveryError(error: unknown, now: Date): DeliveryError {
  const failure = (error ?? {}) as SendGridErrorLike;
  const status = typeof failure.code === "number" ? failure.code : undefined;
  if (status === undefined) {
    const code = typeof failure.code === "string" ? failure.code : undefined;
    const message = error instanceof Error ? error.message : String(error);
    // The SDK validates the message before sending: a malformed email is our bug, not an outage.
    const local = !code && error instanceof Error && error.name === "Error";
    return new DeliveryError(
      local
        ? `The email was refused before sending: ${message}`
        : `SendGrid unreachable: ${code ?? message}`,
      { permanent: local, cause: error },
    );
  }
  const detail = describeSendGridErrors(failure.response?.body);
  const message = `SendGrid answered ${status}${detail ? `: ${detail}` : ""}`;
  if (status === 429) {
    const headers = failure.response?.headers;
    const retryAfter = parseRetryAfter(header(headers, "retry-after"), now) ??
      resetSeconds(header(headers, "x-ratelimit-reset"), now);
    return new DeliveryError(message, {
      permanent: false,
      retryAfterSeconds: retryAfter,
    });
  }
  const transient = status >= 500 || status === 401 || status === 403 ||
    status === 408;
  return new DeliveryError(message, { permanent: !transient });
}

function resetSeconds(
  value: string | undefined,
  now: Date,
): number | undefined {
  if (!value || !/^\d+$/.test(value)) return undefined;
  return Math.max(0, Number(value) - Math.floor(now.getTime() / 1000));
}

/** SendGrid's `{ errors: [{ message, field }] }`, in one line. */
function describeSendGridErrors(body: unknown): string {
  const errors = (body as { errors?: unknown })?.errors;
  if (!Array.isArray(errors)) return "";
  return errors.slice(0, 3).map((item) => {
    const { message, field } = (item ?? {}) as {
      message?: unknown;
      field?: unknown;
    };
    return `${String(message ?? "error")}${typeof field === "string" ? ` (${field})` : ""}`;
  }).join("; ");
}

/** Keeps emails in `captured_emails` instead of sending them (no `SENDGRID_API_KEY`). */
export function createCaptureMailer(db: Database): Mailer {
  return {
    kind: "capture",
    async send(email) {
      const [row] = await db.asService((tx) =>
        tx<{ id: string }[]>`
          insert into public.captured_emails
            (notification_id, kind, from_address, to_address, subject, text_body, html_body,
             headers, custom_args)
          values (${email.notification.id}, ${email.notification.kind},
                  ${`${email.from.name} <${email.from.email}>`}, ${email.to.email},
                  ${email.subject}, ${email.text}, ${email.html},
                  ${tx.json(email.headers)}, ${tx.json(email.customArgs)})
          returning id`
      );
      return { messageId: `captured-${row.id}` };
    },
  };
}
