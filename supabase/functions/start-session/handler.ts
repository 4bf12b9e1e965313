/**
 * `POST start-session`: creates a session and its LiveKit room, honouring `Idempotency-Key`.
 * The session row, the idempotency key and (through a trigger) the pending recording are
 * written in one transaction that stays open while LiveKit creates the room, so a LiveKit
 * failure leaves nothing behind, and a concurrent start by the same streamer waits on the
 * unique index and then gets `409 session_already_live`.
 */
import { z } from "zod";
import { withUser } from "../../../shared/auth.ts";
import type { TokenVerifier } from "../../../shared/auth.ts";
import { readJson } from "../../../shared/body.ts";
import type { Clock } from "../../../shared/clock.ts";
import type { CorsOptions } from "../../../shared/cors.ts";
import type { Database, Tx } from "../../../shared/db.ts";
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
import { enforceRateLimit } from "../../../shared/rate_limit.ts";
import {
  findActiveSession,
  findSession,
  SESSION_FIELDS,
  type SessionRow,
  toSession,
} from "../../../shared/sessions.ts";

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

  /** A replay: the session the key created, or `409 idempotency_key_reused`. */
  async function replay(tx: Tx, userId: string, key: string, hash: string) {
    const [previous] = await tx<{ request_hash: string; response: { sessionId: string } }[]>`
      select request_hash, response from public.idempotency_keys
       where user_id = ${userId} and operation = ${OPERATION} and key = ${key}`;
    if (!previous) return undefined;
    if (previous.request_hash !== hash) {
      throw conflict(
        "idempotency_key_reused",
        "This Idempotency-Key was already used with a different request body.",
      );
    }
    return await findSession(tx, previous.response.sessionId);
  }

  async function alreadyLive(userId: string): Promise<HttpError> {
    const active = await db.asUser(
      { sub: userId, role: "authenticated" },
      (tx) => findActiveSession(tx, userId),
    );
    return conflict(
      "session_already_live",
      "You already have a session that is starting or live; end it first.",
      active ? { sessionId: active.id } : undefined,
    );
  }

  return createFunction({ name: OPERATION, cors: options.cors, logSink: options.logSink }, {
    POST: withUser({ verifier: options.verifier }, async (request, context, user) => {
      const key = idempotencyKeyOf(request);
      const input = await readJson(request, Body);
      // After validation, so that bad requests write nothing, not even a rate-limit hit.
      await enforceRateLimit(
        db,
        { name: OPERATION, limit: 10, windowSeconds: 60 },
        user.sub,
        clock,
      );
      const hash = await sha256(JSON.stringify(input));
      const record = input.record && options.recording !== undefined;
      const now = clock.now();

      let outcome: { created: boolean; session: Awaited<ReturnType<typeof findSession>> };
      try {
        outcome = await db.asUser(user, async (tx) => {
          if (key) {
            const [claimed] = await tx`
              insert into public.idempotency_keys
                (user_id, operation, key, request_hash, created_at, expires_at)
              values (${user.sub}, ${OPERATION}, ${key}, ${hash}, ${now},
                      ${new Date(now.getTime() + 24 * 3600_000)})
              on conflict (user_id, operation, key) do update
                 set request_hash = excluded.request_hash, response = null, status_code = null,
                     created_at = excluded.created_at, expires_at = excluded.expires_at
               where idempotency_keys.expires_at <= ${now}
              returning key`;
            if (!claimed) return { created: false, session: await replay(tx, user.sub, key, hash) };
          }
          const sessionId = crypto.randomUUID();
          // The insert and the key's response, queued together.
          const [[row]] = await Promise.all([
            tx<Omit<SessionRow, "recording_status">[]>`
              insert into public.stream_sessions
                (id, streamer_id, title, status, room_name, record, client, created_at, updated_at)
              values (${sessionId}, ${user.sub}, ${input.title ?? null}, 'starting',
                      ${roomNameFor(sessionId)}, ${record}, ${tx.json(input.client ?? {})},
                      ${now}, ${now})
              returning ${tx(SESSION_FIELDS)}`,
            key && tx`
              update public.idempotency_keys
                 set response = ${tx.json({ sessionId })}, status_code = 201
               where user_id = ${user.sub} and operation = ${OPERATION} and key = ${key}`,
          ]);
          await createSessionRoom(options.livekit, {
            sessionId,
            streamerId: user.sub,
            recording: record ? options.recording : undefined,
          });
          // A recorded session's pending recording comes from a trigger in this transaction.
          const session: SessionRow = { ...row, recording_status: record ? "pending" : null };
          return { created: true, session };
        });
      } catch (error) {
        const constraint = (error as { constraint_name?: string }).constraint_name;
        if (constraint === "stream_sessions_one_active_per_streamer") {
          throw await alreadyLive(user.sub);
        }
        throw error;
      }
      const session = outcome.session;
      if (!session) {
        // The key's session is no longer visible (deleted account data): treat as reused.
        throw conflict("idempotency_key_reused", "This Idempotency-Key can no longer be replayed.");
      }
      context.annotate({ sessionId: session.id, replay: !outcome.created });
      const livekit = session.status === "ended" ? null : await issueGrant(options.livekit, {
        roomName: session.room_name,
        identity: streamerIdentity(user.sub),
        publisher: true,
        clock,
      });
      return json({ session: toSession(session), livekit }, outcome.created ? 201 : 200);
    }),
  });
}
