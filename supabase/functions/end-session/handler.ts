/**
 * `POST end-session`: the owner ends their session (idempotent), then the LiveKit room is
 * deleted, which ends its egress. If LiveKit is down the session still ends; reconciliation
 * deletes the room later.
 */
import { z } from "zod";
import { type TokenVerifier, withUser } from "../../../shared/kernel/auth.ts";
import { readJson } from "../../../shared/kernel/body.ts";
import { claimsParameter, type Database } from "../../../shared/kernel/db.ts";
import { forbidden, unauthorized } from "../../../shared/kernel/errors.ts";
import { createFunction, type HandlerOptions, json } from "../../../shared/kernel/http.ts";
import { deleteSessionRoom, type LiveKitSettings } from "../../../shared/livekit.ts";
import { describeError } from "../../../shared/kernel/log.ts";
import {
  sessionFromJson,
  type SessionJson,
  sessionNotFound,
  toSession,
} from "../../../shared/sessions.ts";

const Body = z.strictObject({ sessionId: z.uuid() });

/** What `private.user_end_session` did. */
type Outcome = "unknown_user" | "not_found" | "forbidden" | "ended";

/** Options of {@linkcode createEndSessionHandler}. */
export interface EndSessionOptions extends HandlerOptions {
  db: Database;
  verifier: TokenVerifier;
  livekit: LiveKitSettings;
}

/** Builds the `end-session` function. */
export function createEndSessionHandler(options: EndSessionOptions) {
  const { db, clock } = options;
  return createFunction({ ...options, name: "end-session" }, {
    POST: withUser({ verifier: options.verifier }, async (request, context, user) => {
      const { sessionId } = await readJson(request, Body);
      // The caller's checks and the write as service_role, in one statement
      // (private.user_end_session).
      const [ended] = await db.sql<{ outcome: Outcome; session: SessionJson | null }[]>`
        select * from private.user_end_session(
          ${claimsParameter(user)}, ${sessionId}, ${clock.now()})`;
      if (ended.outcome === "unknown_user") {
        throw unauthorized("The access token's user no longer exists.");
      }
      if (ended.outcome === "not_found") throw sessionNotFound();
      if (ended.outcome === "forbidden") {
        throw forbidden("Only the streamer can end their session.");
      }
      const session = sessionFromJson(ended.session!);
      context.annotate({ sessionId });
      try {
        await deleteSessionRoom(options.livekit, sessionId);
      } catch (error) {
        context.log.warn("room not deleted; reconciliation will retry", describeError(error));
      }
      return json({ session: toSession(session) });
    }),
  });
}
