/**
 * `POST guardian-consent`: the guardian confirms, with the consent link from their email, that
 * they want to watch (double opt-in). Pending becomes active; an active guardian's consent is a
 * no-op (idempotent). A revoked guardian's, one still awaiting the primary guardian's approval,
 * an expired or a tampered link is `401 invalid_link`. Until this succeeds a guardian gets no
 * stream email.
 *
 * Rights follow proof: when the request also carries a signed-in user's bearer token, that
 * account is bound to the guardian (if it has none yet), and then sees the streamer's sessions
 * and recordings when signed in. A link alone binds nothing. 30 requests a minute per link.
 */
import { z } from "zod";
import type { TokenVerifier } from "../../../shared/kernel/auth.ts";
import { readJson } from "../../../shared/kernel/body.ts";
import type { Database } from "../../../shared/kernel/db.ts";
import { invalidRequest } from "../../../shared/kernel/errors.ts";
import {
  accountBesideLink,
  guardianFromJson,
  resolveGuardianLink,
  toGuardian,
} from "../../../shared/guardians.ts";
import { createFunction, type HandlerOptions, json } from "../../../shared/kernel/http.ts";
import { findLinkToken, invalidLink, type LinkSigner } from "../../../shared/kernel/link.ts";

const Body = z.strictObject({ link: z.string().min(1).max(4096).optional() });

/** Options of {@linkcode createGuardianConsentHandler}. */
export interface GuardianConsentOptions extends HandlerOptions {
  db: Database;
  links: LinkSigner;
  /** Verifies the optional bearer token of a signed-in guardian. */
  verifier: TokenVerifier;
}

interface ConsentResult {
  outcome: "confirmed" | "unchanged" | "invalid_link";
  bound: boolean;
  guardian: Record<string, unknown> | null;
}

/** Builds the `guardian-consent` function. */
export function createGuardianConsentHandler(options: GuardianConsentOptions) {
  const { db, clock } = options;
  return createFunction({ ...options, name: "guardian-consent" }, {
    async POST(request, context) {
      const user = await accountBesideLink(request, options.verifier);
      if (user) context.annotate({ userId: user.sub });
      const input = await readJson(request, Body);
      const token = findLinkToken(request, input);
      if (!token) {
        throw invalidRequest([{
          path: "link",
          message: "A consent link is required.",
        }]);
      }
      const guardian = await resolveGuardianLink(db, {
        signer: options.links,
        token,
        type: "consent",
        rateLimitClock: clock,
      });
      context.annotate({ guardianId: guardian.id });
      const [result] = await db.sql<ConsentResult[]>`
          select outcome, bound, guardian
            from private.guardian_consent(p_guardian_id => ${guardian.id},
                                          p_user_id => ${user?.sub ?? null},
                                          p_now => ${clock.now()})`;
      // Revoked, or still awaiting approval: the link opens nothing.
      if (result.outcome === "invalid_link") throw invalidLink();
      context.annotate({ outcome: result.outcome, bound: result.bound });
      return json({
        guardian: toGuardian(guardianFromJson(result.guardian!)),
      });
    },
  });
}
