/**
 * `POST start-session`: creates a session and its LiveKit room, honouring `Idempotency-Key`.
 *
 * No database transaction stays open while LiveKit answers. One statement
 * (`private.user_start_session`, which checks the caller itself and writes as service_role)
 * commits the rate-limit hit, the idempotency key and the session as `starting` (with its
 * pending recording, by a trigger); then LiveKit creates the room; when it cannot, a second
 * statement (`private.undo_session_start`) deletes the session again, which frees the key, and
 * the answer is `503 livekit_unavailable` (or a 500 when LiveKit refused the call). A concurrent
 * start by the same streamer finds the committed `starting` session: `409 session_already_live`.
 *
 * Idempotency keys keep only successes: a replay returns the session the key's own success
 * created for this caller, and a request that ends in a 4xx or 5xx leaves the key free. A
 * replay of a session still `starting` asks LiveKit for its room again (CreateRoom is
 * idempotent), so a start whose process died between the two steps heals on its client's
 * retry instead of handing out a grant for a room that does not exist.
 */
import { z } from "zod";
import { type TokenVerifier, withUser } from "../../../shared/kernel/auth.ts";
import { readJson } from "../../../shared/kernel/body.ts";
import { claimsParameter, type Database } from "../../../shared/kernel/db.ts";
import { conflict, invalidRequest, unauthorized } from "../../../shared/kernel/errors.ts";
import { createFunction, type HandlerOptions, json } from "../../../shared/kernel/http.ts";
import { sessionAlreadyLive } from "../../../shared/kernel/pg_errors.ts";
import {
  createSessionRoom,
  issueGrant,
  type LiveKitSettings,
  type RecordingTarget,
  roomNameFor,
  streamerIdentity,
} from "../../../shared/livekit.ts";
import { describeError, type Logger } from "../../../shared/kernel/log.ts";
import { type RateLimit, rateLimited, rateLimitKey } from "../../../shared/kernel/rate_limit.ts";
import { sessionFromJson, type SessionJson, toSession } from "../../../shared/sessions.ts";
import { safeText } from "../../../shared/kernel/text.ts";

/** A `client.*` string: as sent (not trimmed), possibly empty, on one printable line. */
function clientText(label: string, max: number) {
  return safeText({ label, max, min: 0, trim: false }).optional();
}

const Body = z.strictObject({
  title: safeText({ label: "The title", max: 120 }).optional(),
  record: z.boolean().default(true),
  client: z.strictObject({
    platform: clientText("The platform", 40),
    appVersion: clientText("The app version", 40),
    device: clientText("The device", 80),
  }).optional(),
});

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{8,128}$/;
const OPERATION = "start-session";
const LIMIT: RateLimit = { name: OPERATION, limit: 10, windowSeconds: 60 };
const KEY_LIFETIME_MS = 24 * 3600_000;

/** A row of `private.user_start_session`. */
interface Start {
  outcome: "rate_limited" | "unknown_user" | "key_reused" | "replay" | "already_live" | "created";
  retry_after_seconds: number;
  session: SessionJson | null;
}

/** A session whose room start-session creates, and whether this request may undo it. */
interface RoomTarget {
  sessionId: string;
  streamerId: string;
  record: boolean;
  /** This request created the session, so a failure takes the start back. */
  undo: boolean;
  log: Logger;
}

/** Options of {@linkcode createStartSessionHandler}. */
export interface StartSessionOptions extends HandlerOptions {
  db: Database;
  verifier: TokenVerifier;
  livekit: LiveKitSettings;
  /** Where egress records; without it sessions are not recorded. */
  recording?: RecordingTarget;
}

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

function idempotencyKeyOf(request: Request): string | undefined {
  const key = request.headers.get("idempotency-key");
  if (key === null) return undefined;
  if (!IDEMPOTENCY_KEY.test(key)) {
    throw invalidRequest([{
      path: "Idempotency-Key",
      message: "Must be 8 to 128 visible ASCII characters.",
    }]);
  }
  return key;
}

/** Builds the `start-session` function. */
export function createStartSessionHandler(options: StartSessionOptions) {
  const { db, clock } = options;

  /**
   * Creates the session's room. When this request created the session, a failure deletes it
   * again (`private.undo_session_start`) before the error is answered; a replay leaves the
   * session to the request that created it, or to reconcile.
   */
  async function createRoom(target: RoomTarget): Promise<void> {
    try {
      await createSessionRoom(options.livekit, {
        sessionId: target.sessionId,
        streamerId: target.streamerId,
        recording: target.record ? options.recording : undefined,
      });
    } catch (error) {
      if (target.undo) await undoStart(target);
      throw error;
    }
  }

  /**
   * Deletes a start whose room could not be created. If the database fails here too, the
   * `starting` session stays until reconcile ends it (`abandoned`, its room never listed).
   */
  async function undoStart(target: RoomTarget): Promise<void> {
    try {
      await db.sql`
        select private.undo_session_start(
          p_session_id => ${target.sessionId}, p_streamer_id => ${target.streamerId})`;
    } catch (error) {
      target.log.error(
        "the start could not be taken back; reconcile ends it",
        describeError(error),
      );
    }
  }

  return createFunction({ ...options, name: OPERATION }, {
    POST: withUser({ verifier: options.verifier }, async (request, context, user) => {
      const key = idempotencyKeyOf(request);
      const input = await readJson(request, Body);
      const hash = await sha256(JSON.stringify(input));
      const record = input.record && options.recording !== undefined;
      const now = clock.now();
      const sessionId = crypto.randomUUID();

      // After validation, so that bad requests write nothing, not even a rate-limit hit. A
      // start that still raced past another is refused by the unique index, which the kernel
      // answers as 409 session_already_live.
      const [start] = await db.sql<Start[]>`
        select * from private.user_start_session(
          p_claims => ${claimsParameter(user)},
          p_rate_key => ${rateLimitKey(LIMIT, user.sub)},
          p_rate_limit => ${LIMIT.limit},
          p_rate_window_seconds => ${LIMIT.windowSeconds},
          p_idempotency_key => ${key ?? null},
          p_request_hash => ${hash},
          p_key_expires_at => ${new Date(now.getTime() + KEY_LIFETIME_MS)},
          p_session_id => ${sessionId},
          p_room_name => ${roomNameFor(sessionId)},
          p_title => ${input.title ?? null},
          p_record => ${record},
          p_client => ${db.sql.json(input.client ?? {})},
          p_now => ${now})`;
      switch (start.outcome) {
        case "rate_limited":
          throw rateLimited(LIMIT, start.retry_after_seconds);
        case "unknown_user":
          throw unauthorized("The access token's user no longer exists.");
        case "key_reused":
          throw conflict(
            "idempotency_key_reused",
            "This Idempotency-Key was already used with a different request body.",
          );
        case "already_live":
          throw sessionAlreadyLive(start.session?.id);
      }
      if (!start.session) {
        // The key's session is not the caller's (cannot happen: the foreign key
        // idempotency_keys_session_owned_fkey forbids it); never replay it.
        throw conflict("idempotency_key_reused", "This Idempotency-Key can no longer be replayed.");
      }
      const session = sessionFromJson(start.session);
      const created = start.outcome === "created";
      context.annotate({ sessionId: session.id, replay: !created });
      if (session.streamer_id !== user.sub) {
        throw new Error(`user_start_session returned session ${session.id} of another streamer`);
      }
      if (session.status === "starting") {
        await createRoom({
          sessionId: session.id,
          streamerId: user.sub,
          record: session.record,
          undo: created,
          log: context.log,
        });
      }
      // The room is derived from the session's id, never read from its row.
      const livekit = session.status === "ended" ? null : await issueGrant(options.livekit, {
        roomName: roomNameFor(session.id),
        identity: streamerIdentity(user.sub),
        publisher: true,
        clock,
      });
      return json({ session: toSession(session), livekit }, created ? 201 : 200);
    }),
  });
}
