/**
 * `POST guardian-consent`: the guardian confirms, with the consent link from their email, that
 * they want to watch (double opt-in). Pending becomes active; an active guardian's consent is a
 * no-op (idempotent). A revoked guardian's, an expired or a tampered link is `401 invalid_link`.
 * Until this succeeds a guardian gets no stream email.
 */
import { z } from "zod";
import { readJson } from "../../../shared/body.ts";
import type { Clock } from "../../../shared/clock.ts";
import type { CorsOptions } from "../../../shared/cors.ts";
import type { Database } from "../../../shared/db.ts";
import { invalidRequest } from "../../../shared/errors.ts";
import { findGuardian, resolveGuardianLink, toGuardian } from "../../../shared/guardians.ts";
import { createFunction, json } from "../../../shared/http.ts";
import { findLinkToken, invalidLink, type LinkSigner } from "../../../shared/link.ts";
import type { LogSink } from "../../../shared/log.ts";

const Body = z.strictObject({ link: z.string().min(1).max(4096).optional() });

/** Options of {@linkcode createGuardianConsentHandler}. */
export interface GuardianConsentOptions {
  db: Database;
  links: LinkSigner;
  cors: CorsOptions;
  clock: Clock;
  logSink?: LogSink;
}

/** Builds the `guardian-consent` function. */
export function createGuardianConsentHandler(options: GuardianConsentOptions) {
  const { db, clock } = options;
  return createFunction(
    { name: "guardian-consent", cors: options.cors, logSink: options.logSink },
    {
      async POST(request, context) {
        const input = await readJson(request, Body);
        const token = findLinkToken(request, input);
        if (!token) {
          throw invalidRequest([{ path: "link", message: "A consent link is required." }]);
        }
        const guardian = await resolveGuardianLink(db, options.links, token, "consent");
        context.annotate({ guardianId: guardian.id });
        const now = clock.now();
        const confirmed = await db.asService(async (tx) => {
          await tx`
            update public.guardians
               set status = 'active', confirmed_at = ${now}, updated_at = ${now}
             where id = ${guardian.id} and status = 'pending'`;
          return await findGuardian(tx, guardian.id);
        });
        // Revoked between the check and the update: the link is dead now.
        if (!confirmed || confirmed.status !== "active") throw invalidLink();
        return json({ guardian: toGuardian(confirmed) });
      },
    },
  );
}
