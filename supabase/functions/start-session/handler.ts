/**
 * `POST start-session`: creates a session and its LiveKit room, honouring `Idempotency-Key`.
 * The rate-limit hit, the idempotency key, the session row and (through a trigger) the pending
 * recording are written by one statement (`private.user_start_session`, as the user under
 * RLS) of a transaction that stays open while LiveKit creates the room, so a LiveKit failure
 * leaves nothing behind, and a concurrent start by the same streamer waits for it and then
 * gets `409 session_already_live`.
 */
import { z } from "zod";
import { withUser } from "../../../shared/auth.ts";
import type { TokenVerifier } from "../../../shared/auth.ts";
import { readJson } from "../../../shared/body.ts";
import type { Clock } from "../../../shared/clock.ts";
import type { CorsOptions } from "../../../shared/cors.ts";
import { claimsParameter, type Database } from "../../../shared/db.ts";
import { conflict, HttpError, invalidRequest } from "../../../shared/errors.ts";
import { createFunction, json } from "../../../shared/http.ts";
import {
  createSessionRoom,
  issueGrant,
  type LiveKitSettings,
  type RecordingTarget,
  roomNameFor,
  streamerIdentity,
} from "../../../shared/livekit.ts";
import type { LogSink } from "../../../shared/log.ts";
import { type RateLimit, rateLimited, rateLimitKey } from "../../../shared/rate_limit.ts";
import { sessionFromJson, type SessionJson, toSession } from "../../../shared/sessions.ts";

const Body = z.strictObject({
  title: z.string().trim().min(1).max(120).optional(),
  record: z.boolean().default(true),
  client: z.strictObject({
    platform: z.string().max(40).optional(),
    appVersion: z.string().max(40).optional(),
    device: z.string().max(80).optional(),
  }).optional(),
});

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{8,128}$/;
const OPERATION = "start-session";
const LIMIT: RateLimit = { name: OPERATION, limit: 10, windowSeconds: 60 };
const KEY_LIFETIME_MS = 24 * 3600_000;

/** A row of `private.user_start_session`. */
interface Start {
  outcome: "rate_limited" | "key_reused" | "replay" | "already_live" | "created";
  retry_after_seconds: number;
  session: SessionJson | null;
}

/** Options of {@linkcode createStartSessionHandler}. */
export interface StartSessionOptions {
  db: Database;
  verifier: TokenVerifier;
  livekit: LiveKitSettings;
  /** Where egress records; without it sessions are not recorded. */
  recording?: RecordingTarget;
  cors: CorsOptions;
  clock: Clock;
  logSink?: LogSink;
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

  function alreadyLive(sessionId: string | undefined): HttpError {
    return conflict(
      "session_already_live",
      "You already have a session that is starting or live; end it first.",
      sessionId ? { sessionId } : undefined,
    );
  }

  return createFunction({ name: OPERATION, cors: options.cors, logSink: options.logSink }, {
    POST: withUser({ verifier: options.verifier }, async (request, context, user) => {
      const key = idempotencyKeyOf(request);
      const input = await readJson(request, Body);
      const hash = await sha256(JSON.stringify(input));
      const record = input.record && options.recording !== undefined;
      const now = clock.now();
      const sessionId = crypto.randomUUID();

      // A start that still raced past another (see the migration) is refused by the unique
      // index, which the kernel answers as 409 session_already_live.
      const start = await db.sql.begin(async (tx) => {
        // After validation, so that bad requests write nothing, not even a rate-limit hit.
        const [row] = await tx<Start[]>`
          select * from private.user_start_session(
            ${claimsParameter(user)}, ${rateLimitKey(LIMIT, user.sub)}, ${LIMIT.limit},
            ${LIMIT.windowSeconds}, ${key ?? null}, ${hash},
            ${new Date(now.getTime() + KEY_LIFETIME_MS)}, ${sessionId},
            ${roomNameFor(sessionId)}, ${input.title ?? null}, ${record},
            ${tx.json(input.client ?? {})}, ${now})`;
        if (row.outcome === "created") {
          await createSessionRoom(options.livekit, {
            sessionId,
            streamerId: user.sub,
            recording: record ? options.recording : undefined,
          });
        }
        return row;
      }) as Start;
      switch (start.outcome) {
        case "rate_limited":
          throw rateLimited(LIMIT, start.retry_after_seconds);
        case "key_reused":
          throw conflict(
            "idempotency_key_reused",
            "This Idempotency-Key was already used with a different request body.",
          );
        case "already_live":
          throw alreadyLive(start.session?.id);
      }
      if (!start.session) {
        // The key's session is no longer visible (deleted account data): treat as reused.
        throw conflict("idempotency_key_reused", "This Idempotency-Key can no longer be replayed.");
      }
      const session = sessionFromJson(start.session);
      const created = start.outcome === "created";
      context.annotate({ sessionId: session.id, replay: !created });
      const livekit = session.status === "ended" ? null : await issueGrant(options.livekit, {
        roomName: session.room_name,
        identity: streamerIdentity(user.sub),
        publisher: true,
        clock,
      });
      return json({ session: toSession(session), livekit }, created ? 201 : 200);
    }),
  });
}
