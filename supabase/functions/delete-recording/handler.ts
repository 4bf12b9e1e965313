/**
 * `POST delete-recording`: the streamer or one of their active guardians deletes a recording.
 * The object leaves the bucket first (one already gone is fine), then the row becomes
 * `deleted`, after which its links and URLs fail. Idempotent. A recording LiveKit is still
 * writing cannot be deleted yet (`409 recording_not_ready`): its object would appear after.
 */
import { z } from "zod";
import { type TokenVerifier, withUser } from "../../../shared/auth.ts";
import { readJson } from "../../../shared/body.ts";
import type { Clock } from "../../../shared/clock.ts";
import type { CorsOptions } from "../../../shared/cors.ts";
import type { Database } from "../../../shared/db.ts";
import { conflict } from "../../../shared/errors.ts";
import { createFunction, json } from "../../../shared/http.ts";
import type { LogSink } from "../../../shared/log.ts";
import {
  findRecording,
  isInProgress,
  markRecordingsDeleted,
  recordingNotFound,
  removeRecordingObject,
} from "../../../shared/recordings.ts";
import { toRecording } from "../../../shared/sessions.ts";
import type { ObjectStorage } from "../../../shared/storage.ts";

const Body = z.strictObject({ recordingId: z.uuid() });

/** Options of {@linkcode createDeleteRecordingHandler}. */
export interface DeleteRecordingOptions {
  db: Database;
  verifier: TokenVerifier;
  /** The bucket; without one, recordings that have an object cannot be deleted (503). */
  storage: ObjectStorage | undefined;
  cors: CorsOptions;
  clock: Clock;
  logSink?: LogSink;
}

/** Builds the `delete-recording` function. */
export function createDeleteRecordingHandler(options: DeleteRecordingOptions) {
  const { db, clock } = options;
  return createFunction({
    name: "delete-recording",
    cors: options.cors,
    logSink: options.logSink,
  }, {
    POST: withUser(
      { verifier: options.verifier },
      async (request, context, user) => {
        const { recordingId } = await readJson(request, Body);
        context.annotate({ recordingId });
        // Visible means owned, or guarded by this user as an active guardian (RLS), and both
        // may delete.
        const recording = await db.asUser(
          user,
          (tx) => findRecording(tx, recordingId),
        );
        if (!recording) {
          throw recordingNotFound();
        }
        if (recording.status === "deleted") {
          return json({ recording: toRecording(recording) });
        }
        if (isInProgress(recording)) {
          throw conflict(
            "recording_not_ready",
            `This recording is still ${recording.status}; it can be deleted once it is ready or has failed.`,
          );
        }

        await removeRecordingObject(options.storage, recording);
        const now = clock.now();
        const deleted = await db.asUser(user, async (tx) => {
          const [, row] = await Promise.all([
            markRecordingsDeleted(tx, [recordingId], now),
            findRecording(tx, recordingId),
          ]);
          return row;
        });
        // No longer visible: the guardian was revoked meanwhile.
        if (!deleted) throw recordingNotFound();
        context.annotate({
          deletedBy: deleted.streamer_id === user.sub ? "owner" : "guardian",
        });
        return json({ recording: toRecording(deleted) });
      },
    ),
  });
}
