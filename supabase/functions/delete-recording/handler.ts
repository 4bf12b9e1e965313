/**
 * `POST delete-recording`: the streamer or their active primary guardian (signed in to the
 * account bound to that guardian) deletes a recording; other guardians who can see it get
 * `403`, anyone else `404`. The object leaves the bucket first (one already gone is fine), then
 * the row becomes `deleted`, after which its links and URLs fail. Idempotent. A recording
 * LiveKit is still writing cannot be deleted yet (`409 recording_not_ready`): its object would
 * appear after.
 */
import { z } from "zod";
import { type TokenVerifier, withUser } from "../../../shared/kernel/auth.ts";
import { readJson } from "../../../shared/kernel/body.ts";
import type { Database } from "../../../shared/kernel/db.ts";
import { conflict, forbidden } from "../../../shared/kernel/errors.ts";
import { createFunction, type HandlerOptions, json } from "../../../shared/kernel/http.ts";
import {
  findRecording,
  isInProgress,
  markRecordingsDeleted,
  recordingNotFound,
  removeRecordingObject,
} from "../../../shared/recordings.ts";
import { type RecordingRow, toRecording } from "../../../shared/sessions.ts";
import type { ObjectStorage } from "../../../shared/storage.ts";

const Body = z.strictObject({ recordingId: z.uuid() });

/** The recording to delete, with who the caller is to it. */
interface DeletionTarget extends Pick<RecordingRow, "id" | "source" | "status" | "object_path"> {
  by_streamer: boolean;
  by_primary_guardian: boolean;
}

/** Options of {@linkcode createDeleteRecordingHandler}. */
export interface DeleteRecordingOptions extends HandlerOptions {
  db: Database;
  verifier: TokenVerifier;
  /** The bucket; without one, recordings that have an object cannot be deleted (503). */
  storage: ObjectStorage | undefined;
}

/** Builds the `delete-recording` function. */
export function createDeleteRecordingHandler(options: DeleteRecordingOptions) {
  const { db, clock } = options;
  return createFunction({ ...options, name: "delete-recording" }, {
    POST: withUser(
      { verifier: options.verifier },
      async (request, context, user) => {
        const { recordingId } = await readJson(request, Body);
        context.annotate({ recordingId });
        // Visible (RLS): the caller's own recording, or one of a streamer they actively guard.
        // Anyone else must not learn that it exists.
        const visible = await db.asUser(user, (tx) => findRecording(tx, recordingId));
        if (!visible) throw recordingNotFound();

        // Decided and done as service_role under the recording's row lock, so a concurrent
        // delete, completion or retention waits: the object leaves the bucket first, then the
        // row becomes deleted, and if GCS fails nothing changed (503).
        const now = clock.now();
        const { deleted, deletedBy } = await db.asService(async (tx) => {
          const [target] = await tx<DeletionTarget[]>`
            select r.id, r.source, r.status, r.object_path,
                   r.streamer_id = ${user.sub} as by_streamer,
                   exists (select 1 from public.guardians g
                            where g.streamer_id = r.streamer_id and g.user_id = ${user.sub}
                              and g.status = 'active' and g.role = 'primary')
                     as by_primary_guardian
              from public.recordings r
             where r.id = ${recordingId}
               for update of r`;
          if (!target) return { deleted: undefined, deletedBy: undefined };
          if (!target.by_streamer && !target.by_primary_guardian) {
            throw forbidden(
              "Only the streamer and their primary guardian can delete a recording.",
            );
          }
          if (target.status !== "deleted") {
            if (isInProgress(target)) {
              throw conflict(
                "recording_not_ready",
                `This recording is still ${target.status}; it can be deleted once it is ready or has failed.`,
              );
            }
            await removeRecordingObject(options.storage, target);
            await markRecordingsDeleted(tx, [recordingId], now);
          }
          return {
            deleted: await findRecording(tx, recordingId),
            deletedBy: target.by_streamer ? "streamer" : "primary_guardian",
          };
        });
        if (!deleted) throw recordingNotFound();
        context.annotate({ deletedBy });
        return json({ recording: toRecording(deleted) });
      },
    ),
  });
}
