/**
 * `notification-preferences`: a guardian reads (`GET`) and changes (`POST { link, notify }`)
 * which emails they get, with the preferences link from any stream email. Mail providers
 * unsubscribe in one click (RFC 8058) by POSTing the form body `List-Unsubscribe=One-Click` to
 * the URL of the email's `List-Unsubscribe` header, which carries the link as `?link=`; that
 * turns every kind off. Revoked guardians' links are `401 invalid_link`; 30 requests a minute
 * per link, then `429`.
 *
 * The choices are the address's own (`private.guardian_set_preferences`): a later invitation of
 * the same address, by any streamer, starts with them, and an address that turned every kind off
 * gets no consent email again until it turns one on here.
 */
import { z } from "zod";
import { readJson, readQuery, readText, validate } from "../../../shared/kernel/body.ts";
import type { Database } from "../../../shared/kernel/db.ts";
import { HttpError, invalidRequest } from "../../../shared/kernel/errors.ts";
import {
  guardianFromJson,
  type GuardianRow,
  type NotifyChoices,
  resolveGuardianLink,
  toGuardian,
} from "../../../shared/guardians.ts";
import {
  createFunction,
  type HandlerOptions,
  json,
  type RequestContext,
} from "../../../shared/kernel/http.ts";
import { findLinkToken, invalidLink, type LinkSigner } from "../../../shared/kernel/link.ts";

const Link = z.string().min(1).max(4096);

const Query = z.strictObject({ link: Link.optional() });

const Notify = z.strictObject({
  streamStarted: z.boolean().optional(),
  streamEnded: z.boolean().optional(),
  recordingReady: z.boolean().optional(),
});

const JsonBody = z.strictObject({ link: Link.optional(), notify: Notify });

/** RFC 8058: the one-click POST body is exactly this one form field. */
const OneClickBody = z.strictObject({
  "List-Unsubscribe": z.literal("One-Click", {
    error: 'A one-click unsubscribe sends "List-Unsubscribe=One-Click".',
  }),
});

const FORM_TYPES = ["application/x-www-form-urlencoded", "multipart/form-data"];

/** Options of {@linkcode createNotificationPreferencesHandler}. */
export interface NotificationPreferencesOptions extends HandlerOptions {
  db: Database;
  links: LinkSigner;
}

/** Builds the `notification-preferences` function. */
export function createNotificationPreferencesHandler(
  options: NotificationPreferencesOptions,
) {
  const { db, clock } = options;

  function requireLink(request: Request, body?: { link?: string }): string {
    const token = findLinkToken(request, body);
    if (!token) {
      throw invalidRequest([{
        path: "link",
        message: "A preferences link is required.",
      }]);
    }
    return token;
  }

  async function guardianOf(
    token: string,
    context: RequestContext,
  ): Promise<GuardianRow> {
    const guardian = await resolveGuardianLink(db, {
      signer: options.links,
      token,
      type: "preferences",
      rateLimitClock: clock,
    });
    context.annotate({ guardianId: guardian.id });
    return guardian;
  }

  async function update(
    guardianId: string,
    notify: Partial<NotifyChoices>,
  ): Promise<GuardianRow> {
    const [result] = await db.sql<
      {
        outcome: "updated" | "invalid_link";
        guardian: Record<string, unknown> | null;
      }[]
    >`
      select outcome, guardian
        from private.guardian_set_preferences(p_guardian_id => ${guardianId},
                                              p_notify => ${db.sql.json(notify)},
                                              p_now => ${clock.now()})`;
    // Revoked since the link was checked.
    if (result.outcome === "invalid_link") throw invalidLink();
    return guardianFromJson(result.guardian!);
  }

  async function oneClick(
    request: Request,
    context: RequestContext,
    mediaType: string,
  ) {
    readQuery(request, Query);
    const token = requireLink(request);
    const text = await readText(request);
    let fields: Record<string, string>;
    if (mediaType === "multipart/form-data") {
      const form = await new Request(request.url, {
        method: "POST",
        headers: { "content-type": request.headers.get("content-type")! },
        body: text,
      }).formData().catch(() => {
        throw new HttpError(
          400,
          "invalid_request",
          "The form body is not valid multipart.",
        );
      });
      fields = Object.fromEntries(
        [...form].map(([name, value]) => [name, String(value)]),
      );
    } else {
      fields = Object.fromEntries(new URLSearchParams(text));
    }
    validate(OneClickBody, fields);
    const guardian = await guardianOf(token, context);
    context.annotate({ oneClick: true });
    const row = await update(guardian.id, {
      streamStarted: false,
      streamEnded: false,
      recordingReady: false,
    });
    return json({ guardian: toGuardian(row) });
  }

  return createFunction({ ...options, name: "notification-preferences" }, {
    async GET(request, context) {
      readQuery(request, Query);
      const guardian = await guardianOf(requireLink(request), context);
      return json({ guardian: toGuardian(guardian) });
    },

    async POST(request, context) {
      const contentType = request.headers.get("content-type") ?? "";
      const mediaType = contentType.split(";")[0].trim().toLowerCase();
      if (FORM_TYPES.includes(mediaType)) {
        return await oneClick(request, context, mediaType);
      }
      if (mediaType && mediaType !== "application/json") {
        throw new HttpError(
          415,
          "unsupported_media_type",
          `notification-preferences takes JSON or the one-click form, not ${mediaType}.`,
        );
      }
      const input = await readJson(request, JsonBody);
      readQuery(request, Query);
      const guardian = await guardianOf(requireLink(request, input), context);
      const row = await update(guardian.id, input.notify);
      return json({ guardian: toGuardian(row) });
    },
  });
}
