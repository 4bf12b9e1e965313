/**
 * `POST end-session`: the owner ends their session (idempotent), then the LiveKit room is
 * deleted, which ends its egress. If LiveKit is down the session still ends; reconciliation
 * deletes the room later.
 */
import { z } from "zod";
import { type TokenVerifier, withUser } from "../../../shared/auth.ts";
import { readJson } from "../../../shared/body.ts";
import type { Clock } from "../../../shared/clock.ts";
import type { CorsOptions } from "../../../shared/cors.ts";
import type { Database } from "../../../shared/db.ts";
import { forbidden } from "../../../shared/errors.ts";
import { createFunction, json } from "../../../shared/http.ts";
import { deleteSessionRoom, type LiveKitSettings } from "../../../shared/livekit.ts";
import { describeError, type LogSink } from "../../../shared/log.ts";
import { findSession, sessionNotFound, toSession } from "../../../shared/sessions.ts";

const Body = z.strictObject({ sessionId: z.uuid() });

/** Options of {@linkcode createEndSessionHandler}. */
export interface EndSessionOptions {
  db: Database;
  verifier: TokenVerifier;
  livekit: LiveKitSettings;
  cors: CorsOptions;
  clock: Clock;
  logSink?: LogSink;
}

/** Builds the `end-session` function. */
export function createEndSessionHandler(options: EndSessionOptions) {
  const { db, clock } = options;
  return createFunction({ name: "end-session", cors: options.cors, logSink: options.logSink }, {
    POST: withUser({ verifier: options.verifier }, async (request, context, user) => {
      const { sessionId } = await readJson(request, Body);
      const now = clock.now();
      const session = await db.asUser(user, async (tx) => {
        const found = await findSession(tx, sessionId);
        if (!found) throw sessionNotFound();
        if (found.streamer_id !== user.sub) {
          throw forbidden("Only the streamer can end their session.");
        }
        if (found.status === "ended") return found;
        await tx`
          update public.stream_sessions
             set status = 'ended', end_reason = 'streamer_ended', ended_at = ${now},
                 duration_seconds = case when started_at is null then null
                   else greatest(0, extract(epoch from (${now}::timestamptz - started_at))) end,
                 updated_at = ${now}
           where id = ${sessionId} and status <> 'ended'`;
        return await findSession(tx, sessionId);
      });
      context.annotate({ sessionId });
      try {
        await deleteSessionRoom(options.livekit, sessionId);
      } catch (error) {
        context.log.warn("room not deleted; reconciliation will retry", describeError(error));
      }
      return json({ session: toSession(session!) });
    }),
  });
}
