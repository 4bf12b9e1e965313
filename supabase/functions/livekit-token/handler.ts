/**
 * `POST livekit-token`: a grant for a session that has not ended. The owner gets a publisher
 * grant (a refresh of the one start-session gave) for the session's own room; an active
 * guardian with an account, or the holder of a watch link, gets a subscribe-only grant of five
 * minutes as `guardian:{guardianId}`, and both doors count in that guardian's one rate-limit
 * bucket.
 */
import { z } from "zod";
import { bearerToken, type TokenVerifier } from "../../../shared/kernel/auth.ts";
import { readJson } from "../../../shared/kernel/body.ts";
import { claimsParameter, type Database } from "../../../shared/kernel/db.ts";
import { conflict, invalidRequest, unauthorized } from "../../../shared/kernel/errors.ts";
import { createFunction, type HandlerOptions, json } from "../../../shared/kernel/http.ts";
import { findLinkToken, type LinkSigner } from "../../../shared/kernel/link.ts";
import {
  guardianIdentity,
  issueGrant,
  type LiveKitSettings,
  roomNameFor,
  streamerIdentity,
} from "../../../shared/livekit.ts";
import { enforceRateLimit, rateLimited } from "../../../shared/kernel/rate_limit.ts";
import {
  sessionFromJson,
  type SessionJson,
  sessionNotFound,
  type SessionRow,
  toSession,
} from "../../../shared/sessions.ts";
import { resolveWatchLink } from "../../../shared/watch_link.ts";
import { accountBesideLink } from "../../../shared/guardians.ts";

const Body = z.strictObject({
  sessionId: z.uuid().optional(),
  link: z.string().min(1).max(4096).optional(),
});

const LIMIT = { name: "livekit-token", limit: 60, windowSeconds: 60 };

/** Options of {@linkcode createLiveKitTokenHandler}. */
export interface LiveKitTokenOptions extends HandlerOptions {
  db: Database;
  verifier: TokenVerifier;
  links: LinkSigner;
  livekit: LiveKitSettings;
}

/** A row of `private.user_session_access`. */
interface Access {
  allowed: boolean;
  retry_after_seconds: number;
  guardian_id: string | null;
  guardian_name: string | null;
  session: SessionJson | null;
  known_user: boolean;
}

interface Viewer {
  session: SessionRow;
  identity: string;
  name?: string;
  publisher: boolean;
}

/** Builds the `livekit-token` function. */
export function createLiveKitTokenHandler(options: LiveKitTokenOptions) {
  const { db, clock } = options;

  async function byLink(request: Request, token: string): Promise<Viewer> {
    // A signed-in account presenting the link beside its bearer token is bound to the link's
    // guardian (rights follow proof); a link alone binds nothing.
    const account = await accountBesideLink(request, options.verifier);
    const { guardian, session } = await resolveWatchLink(db, {
      signer: options.links,
      token,
      userId: account?.sub,
    });
    // The bucket private.user_session_access counts the same guardian's account requests in.
    await enforceRateLimit(db, { limit: LIMIT, subject: `guardian:${guardian.id}`, clock });
    return {
      session,
      identity: guardianIdentity(guardian.id),
      name: guardian.name ?? "Guardian",
      publisher: false,
    };
  }

  async function byUser(request: Request, sessionId: string | undefined): Promise<Viewer> {
    const user = await options.verifier.verifyUser(bearerToken(request));
    if (!sessionId) {
      throw invalidRequest([{ path: "sessionId", message: "Give a sessionId or a link." }]);
    }
    // The session if it is the user's or they actively guard its streamer, that guardianship,
    // and the rate-limit hit in the guardian's bucket (else the user's): one statement,
    // private.user_session_access.
    const [access] = await db.sql<Access[]>`
      select * from private.user_session_access(
        p_claims => ${claimsParameter(user)},
        p_session_id => ${sessionId},
        p_rate_name => ${LIMIT.name},
        p_rate_limit => ${LIMIT.limit},
        p_rate_window_seconds => ${LIMIT.windowSeconds},
        p_now => ${clock.now()})`;
    if (!access.allowed) throw rateLimited(LIMIT, access.retry_after_seconds);
    if (!access.known_user) throw unauthorized("The access token's user no longer exists.");
    if (!access.session) throw sessionNotFound();
    const session = sessionFromJson(access.session);
    if (session.streamer_id === user.sub) {
      return { session, identity: streamerIdentity(user.sub), publisher: true };
    }
    if (!access.guardian_id) throw sessionNotFound();
    return {
      session,
      identity: guardianIdentity(access.guardian_id),
      name: access.guardian_name ?? "Guardian",
      publisher: false,
    };
  }

  return createFunction({ ...options, name: "livekit-token" }, {
    async POST(request, context) {
      const input = await readJson(request, Body);
      const link = findLinkToken(request, input);
      const viewer = link ? await byLink(request, link) : await byUser(request, input.sessionId);
      context.annotate({ sessionId: viewer.session.id, publisher: viewer.publisher });
      if (viewer.session.status === "ended") {
        throw conflict(
          "session_ended",
          `This session ended at ${viewer.session.ended_at?.toISOString()}.`,
        );
      }
      // The room is derived from the session's id, never read from its row: publishing is
      // only ever granted in the room start-session created.
      const livekit = await issueGrant(options.livekit, {
        roomName: roomNameFor(viewer.session.id),
        identity: viewer.identity,
        name: viewer.name,
        publisher: viewer.publisher,
        clock,
      });
      return json({ livekit, session: toSession(viewer.session) });
    },
  });
}
