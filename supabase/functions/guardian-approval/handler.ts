/**
 * `guardian-approval`: the streamer's primary guardian decides, with the approval link from its
 * email, whether someone the streamer invited may be asked for consent. `GET ?link=` shows the
 * invitation (`{ guardian, streamer: { displayName } }`); `POST { link, decision }` approves it
 * (the invitee becomes `pending` and gets its consent email) or denies it (`revoked`). The same
 * decision again is `200`; the other one, once taken, is `409 guardian_decided`.
 *
 * An approval link names the primary guardian it was sent to and the invited guardian. It opens
 * nothing once that primary guardian is no longer the streamer's active primary guardian
 * (revoked, or replaced by the service): `401 invalid_link`. 30 requests a minute per link.
 */
import { z } from "zod";
import { readJson, readQuery } from "../../../shared/kernel/body.ts";
import type { Database } from "../../../shared/kernel/db.ts";
import { conflict, invalidRequest } from "../../../shared/kernel/errors.ts";
import {
  enforceLinkRateLimit,
  findGuardian,
  guardianFromJson,
  type GuardianRow,
  toGuardian,
} from "../../../shared/guardians.ts";
import {
  createFunction,
  type HandlerOptions,
  json,
  type RequestContext,
} from "../../../shared/kernel/http.ts";
import {
  findLinkToken,
  invalidLink,
  type LinkClaims,
  type LinkSigner,
} from "../../../shared/kernel/link.ts";
import type { DrainRequester } from "../../../shared/outbox_drain.ts";

const Link = z.string().min(1).max(4096);

const Query = z.strictObject({ link: Link.optional() });

const Body = z.strictObject({
  link: Link.optional(),
  decision: z.enum(["approve", "deny"], {
    error: 'decision must be "approve" or "deny".',
  }),
});

/** Options of {@linkcode createGuardianApprovalHandler}. */
export interface GuardianApprovalOptions extends HandlerOptions {
  db: Database;
  links: LinkSigner;
  /** Asks send-notification to send the consent email of an approved invitation now. */
  drain: DrainRequester;
}

interface DecideResult {
  outcome: "approved" | "denied" | "unchanged" | "decided" | "invalid_link";
  guardian: Record<string, unknown> | null;
}

/** Builds the `guardian-approval` function. */
export function createGuardianApprovalHandler(
  options: GuardianApprovalOptions,
) {
  const { db, clock } = options;

  /** The verified approval link of the request, counted against the link doors' limit. */
  async function approvalLink(
    request: Request,
    context: RequestContext,
    body?: { link?: string },
  ): Promise<LinkClaims> {
    const token = findLinkToken(request, body);
    if (!token) {
      throw invalidRequest([{
        path: "link",
        message: "An approval link is required.",
      }]);
    }
    const link = await options.links.verify(token, "approval");
    if (link.objectId === link.guardianId) throw invalidLink();
    await enforceLinkRateLimit(db, link, clock);
    context.annotate({
      primaryGuardianId: link.guardianId,
      guardianId: link.objectId,
    });
    return link;
  }

  return createFunction({ ...options, name: "guardian-approval" }, {
    async GET(request, context) {
      readQuery(request, Query);
      const link = await approvalLink(request, context);
      const found = await db.asService(async (tx) => {
        const primary = await findGuardian(tx, link.guardianId);
        if (
          !primary || primary.role !== "primary" ||
          primary.status !== "active"
        ) {
          return undefined;
        }
        const invited = await findGuardian(tx, link.objectId);
        if (!invited || invited.streamer_id !== primary.streamer_id) {
          return undefined;
        }
        const [streamer] = await tx<{ display_name: string | null }[]>`
            select private.streamer_display_name(${primary.streamer_id}::uuid) as display_name`;
        return { invited, displayName: streamer.display_name };
      });
      if (!found) throw invalidLink();
      return json({
        guardian: toGuardian(found.invited),
        streamer: { displayName: found.displayName },
      });
    },

    async POST(request, context) {
      const input = await readJson(request, Body);
      readQuery(request, Query);
      const link = await approvalLink(request, context, input);
      const [result] = await db.sql<DecideResult[]>`
          select outcome, guardian
            from private.guardian_decide(p_primary_id => ${link.guardianId},
                                         p_guardian_id => ${link.objectId},
                                         p_decision => ${input.decision},
                                         p_now => ${clock.now()})`;
      context.annotate({ decision: input.decision, outcome: result.outcome });
      if (result.outcome === "invalid_link") throw invalidLink();
      const guardian: GuardianRow = guardianFromJson(result.guardian!);
      if (result.outcome === "decided") {
        throw conflict(
          "guardian_decided",
          `This invitation was already decided: the guardian is ${guardian.status}.`,
        );
      }
      if (result.outcome === "approved") options.drain.request(context.log);
      return json({ guardian: toGuardian(guardian) });
    },
  });
}
