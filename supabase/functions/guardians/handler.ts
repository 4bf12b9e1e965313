/**
 * `guardians`: a streamer lists (`GET`), invites (`POST`) and revokes (`DELETE ?guardianId=`)
 * the people allowed to watch. An invitation is `pending` and queues a consent email (a trigger
 * does, in the same transaction); the email is sent in the background once the row committed.
 * Revoking is final and makes every link of that guardian fail at once.
 */
import { z } from "zod";
import { type TokenVerifier, withUser } from "../../../shared/auth.ts";
import { readJson, readQuery } from "../../../shared/body.ts";
import type { Clock } from "../../../shared/clock.ts";
import type { CorsOptions } from "../../../shared/cors.ts";
import type { Database } from "../../../shared/db.ts";
import { forbidden, notFound } from "../../../shared/errors.ts";
import {
  findGuardian,
  type GuardianRow,
  selectGuardians,
  toGuardian,
} from "../../../shared/guardians.ts";
import { createFunction, json } from "../../../shared/http.ts";
import type { LogSink } from "../../../shared/log.ts";
import type { DrainRequester } from "../../../shared/outbox_drain.ts";
import { enforceRateLimit } from "../../../shared/rate_limit.ts";

const CONTROL_CHARACTERS = /\p{Cc}/u;

/** Trimmed, lower-cased, then checked as an address; the result is what the table stores. */
const Email = z.string().trim().toLowerCase().max(254, "The email address is too long.")
  .pipe(z.email({ error: "This is not a valid email address." }));

const Name = z.string().trim().min(1, "The name must not be empty.").max(
  100,
  "The name must be at most 100 characters.",
).refine((name) => !CONTROL_CHARACTERS.test(name), "The name must not contain control characters.");

const Notify = z.strictObject({
  streamStarted: z.boolean().optional(),
  streamEnded: z.boolean().optional(),
  recordingReady: z.boolean().optional(),
});

const CreateBody = z.strictObject({
  email: Email,
  name: Name.nullable().optional(),
  notify: Notify.optional(),
});

const ListQuery = z.strictObject({});

const RevokeQuery = z.strictObject({ guardianId: z.uuid() });

/** Invitations send email to addresses the streamer types in, so they are rationed. */
const ADD_LIMIT = { name: "guardians-add", limit: 30, windowSeconds: 3600 };

/** Options of {@linkcode createGuardiansHandler}. */
export interface GuardiansOptions {
  db: Database;
  verifier: TokenVerifier;
  /** Asks send-notification to send the consent email now. */
  drain: DrainRequester;
  cors: CorsOptions;
  clock: Clock;
  logSink?: LogSink;
}

/** Builds the `guardians` function. */
export function createGuardiansHandler(options: GuardiansOptions) {
  const { db, clock } = options;
  const verifier = { verifier: options.verifier };

  return createFunction({ name: "guardians", cors: options.cors, logSink: options.logSink }, {
    GET: withUser(verifier, async (request, _context, user) => {
      readQuery(request, ListQuery);
      const rows = await db.asUser(user, (tx) =>
        tx<GuardianRow[]>`
          ${selectGuardians(tx)}
           where g.streamer_id = ${user.sub}
           order by g.created_at desc, g.id`);
      return json({ guardians: rows.map(toGuardian) });
    }),

    POST: withUser(verifier, async (request, context, user) => {
      const input = await readJson(request, CreateBody);
      await enforceRateLimit(db, ADD_LIMIT, user.sub, clock);
      const now = clock.now();
      const notify = input.notify ?? {};
      const row = await db.asUser(user, async (tx) => {
        const [created] = await tx<GuardianRow[]>`
          insert into public.guardians as g
            (streamer_id, email, name, notify_stream_started, notify_stream_ended,
             notify_recording_ready, created_at, updated_at)
          values (${user.sub}, ${input.email}, ${input.name ?? null},
                  ${notify.streamStarted ?? true}, ${notify.streamEnded ?? false},
                  ${notify.recordingReady ?? true}, ${now}, ${now})
          returning g.id, g.streamer_id, g.email, g.name, g.status, g.notify_stream_started,
                    g.notify_stream_ended, g.notify_recording_ready, g.created_at`;
        return created;
      });
      context.annotate({ guardianId: row.id });
      options.drain.request(context.log);
      return json({ guardian: toGuardian(row) }, 201);
    }),

    DELETE: withUser(verifier, async (request, context, user) => {
      const { guardianId } = readQuery(request, RevokeQuery);
      context.annotate({ guardianId });
      const now = clock.now();
      const row = await db.asUser(user, async (tx) => {
        const found = await findGuardian(tx, guardianId);
        if (!found) throw notFound("No guardian with this id is visible to you.");
        if (found.streamer_id !== user.sub) {
          throw forbidden("Only the streamer who added a guardian can revoke them.");
        }
        if (found.status === "revoked") return found;
        await tx`
          update public.guardians
             set status = 'revoked', revoked_at = ${now}, updated_at = ${now}
           where id = ${guardianId} and status <> 'revoked'`;
        return await findGuardian(tx, guardianId);
      });
      return json({ guardian: toGuardian(row!) });
    }),
  });
}
