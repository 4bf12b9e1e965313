/**
 * `GET streams`: the starting and live sessions the caller may see (own, and those of
 * streamers who named them an active guardian), newest first; or one session with its
 * recordings, by `?sessionId=` (signed-in) or by a watch link (30 requests a minute per link).
 */
import { z } from "zod";
import { type TokenVerifier, withUser } from "../../../shared/kernel/auth.ts";
import { readQuery } from "../../../shared/kernel/body.ts";
import type { Database } from "../../../shared/kernel/db.ts";
import { createFunction, type HandlerOptions, json } from "../../../shared/kernel/http.ts";
import { findLinkToken, type LinkSigner } from "../../../shared/kernel/link.ts";
import { enforceRateLimit, type RateLimit } from "../../../shared/kernel/rate_limit.ts";
import {
  findSession,
  listActiveSessionsAs,
  listRecordings,
  sessionNotFound,
  toRecording,
  toSession,
} from "../../../shared/sessions.ts";
import { resolveWatchLink } from "../../../shared/watch_link.ts";
import { accountBesideLink } from "../../../shared/guardians.ts";

const Query = z.strictObject({
  sessionId: z.uuid().optional(),
  link: z.string().min(1).max(4096).optional(),
});

/** Requests by one watch link (one guardian, one session). */
const LINK_LIMIT: RateLimit = { name: "streams-link", limit: 30, windowSeconds: 60 };

/** Options of {@linkcode createStreamsHandler}. */
export interface StreamsOptions extends HandlerOptions {
  db: Database;
  verifier: TokenVerifier;
  links: LinkSigner;
}

/** Builds the `streams` function. */
export function createStreamsHandler(options: StreamsOptions) {
  const { db } = options;
  const signedIn = withUser({ verifier: options.verifier }, async (request, _context, user) => {
    const { sessionId } = readQuery(request, Query);
    if (!sessionId) {
      const sessions = await listActiveSessionsAs(db, user);
      return json({ streams: sessions.map(toSession) });
    }
    return await db.asUser(user, async (tx) => {
      const session = await findSession(tx, sessionId);
      if (!session) throw sessionNotFound();
      const recordings = await listRecordings(tx, sessionId);
      return json({ session: toSession(session), recordings: recordings.map(toRecording) });
    });
  });

  return createFunction({ ...options, name: "streams" }, {
    async GET(request, context) {
      readQuery(request, Query);
      const link = findLinkToken(request);
      if (!link) return await signedIn(request, context);
      // A signed-in account beside the link is bound to its guardian (rights follow proof).
      const account = await accountBesideLink(request, options.verifier);
      const { guardian, session } = await resolveWatchLink(db, {
        signer: options.links,
        token: link,
        userId: account?.sub,
      });
      await enforceRateLimit(db, {
        limit: LINK_LIMIT,
        subject: `${guardian.id}:${session.id}`,
        clock: options.clock,
      });
      const recordings = await db.asService((tx) => listRecordings(tx, session.id));
      return json({ session: toSession(session), recordings: recordings.map(toRecording) });
    },
  });
}
