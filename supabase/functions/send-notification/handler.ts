/**
 * `POST send-notification` (service only): drains up to `limit` due rows of the email outbox
 * and answers what happened to them. Called every minute by pg_cron where it exists, and in the
 * background by functions that just queued emails. A SendGrid outage is not an error here: the
 * emails are retried later (`retried`), and the call still answers 200.
 */
import { z } from "zod";
import { type TokenVerifier, withService } from "../../../shared/kernel/auth.ts";
import { readJson } from "../../../shared/kernel/body.ts";
import type { Database } from "../../../shared/kernel/db.ts";
import { createFunction, type HandlerOptions, json } from "../../../shared/kernel/http.ts";
import type { LinkSigner } from "../../../shared/kernel/link.ts";
import type { Mailer } from "./mailer.ts";
import { drainOutbox } from "./outbox.ts";
import { renderNotification, type RenderSettings } from "./render.ts";

const Body = z.strictObject({
  limit: z.int({ error: "limit must be a whole number from 1 to 500." }).min(1)
    .max(500)
    .optional(),
});

/** Rows one call handles when it names no limit. */
export const DEFAULT_LIMIT = 100;

/** Options of {@linkcode createSendNotificationHandler}. */
export interface SendNotificationOptions extends HandlerOptions {
  db: Database;
  verifier: TokenVerifier;
  mailer: Mailer;
  links: LinkSigner;
  /** What every email shares, besides the link signer. */
  email: Omit<RenderSettings, "links">;
  /** Uniform in [0, 1), for the backoff's jitter. @default {Math.random} */
  random?: () => number;
  /** Emails in flight at once. @default {10} */
  concurrency?: number;
}

/** Builds the `send-notification` function. */
export function createSendNotificationHandler(
  options: SendNotificationOptions,
) {
  const settings: RenderSettings = { ...options.email, links: options.links };
  return createFunction({ ...options, name: "send-notification" }, {
    POST: withService(
      { verifier: options.verifier },
      async (request, context) => {
        const { limit = DEFAULT_LIMIT } = await readJson(request, Body);
        const counts = await drainOutbox({
          db: options.db,
          mailer: options.mailer,
          render: (notification) => renderNotification(notification, settings),
          clock: options.clock,
          log: context.log,
          limit,
          random: options.random,
          concurrency: options.concurrency,
        });
        context.annotate({ limit, mailer: options.mailer.kind, ...counts });
        return json(counts);
      },
    ),
  });
}
