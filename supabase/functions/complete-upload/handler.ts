/**
 * `POST complete-upload`: the streamer says their upload is done. The recording becomes
 * `ready` only when the bucket holds its object with the announced size and type; the
 * database then queues the "recording ready" emails (a trigger). Otherwise `409
 * upload_incomplete` and it stays `uploading`. Idempotent once ready.
 */
import { z } from "zod";
import { type TokenVerifier, withUser } from "../../../shared/kernel/auth.ts";
import { readJson } from "../../../shared/kernel/body.ts";
import type { Database } from "../../../shared/kernel/db.ts";
import { conflict, forbidden } from "../../../shared/kernel/errors.ts";
import { createFunction, type HandlerOptions, json } from "../../../shared/kernel/http.ts";
import type { DrainRequester } from "../../../shared/outbox_drain.ts";
import { findRecording, recordingNotFound, requireStorage } from "../../../shared/recordings.ts";
import { toRecording } from "../../../shared/sessions.ts";
import type { ObjectStorage } from "../../../shared/storage.ts";

const Body = z.strictObject({ recordingId: z.uuid() });

/** Options of {@linkcode createCompleteUploadHandler}. */
export interface CompleteUploadOptions extends HandlerOptions {
  db: Database;
  verifier: TokenVerifier;
  /** The bucket; without one, completing an upload is `503 storage_unavailable`. */
  storage: ObjectStorage | undefined;
  /** Asked to send the queued "recording ready" emails now rather than at the next drain. */
  drain?: DrainRequester;
}

/** Builds the `complete-upload` function. */
export function createCompleteUploadHandler(options: CompleteUploadOptions) {
  const { db, clock } = options;
  return createFunction({ ...options, name: "complete-upload" }, {
    POST: withUser(
      { verifier: options.verifier },
      async (request, context, user) => {
        const { recordingId } = await readJson(request, Body);
        context.annotate({ recordingId });
        const recording = await db.asUser(
          user,
          (tx) => findRecording(tx, recordingId),
        );
        if (!recording || recording.status === "deleted") {
          throw recordingNotFound();
        }
        if (recording.streamer_id !== user.sub) {
          throw forbidden("Only the streamer can complete their upload.");
        }
        if (recording.status === "ready") {
          return json({ recording: toRecording(recording) });
        }
        if (recording.source !== "upload") {
          throw conflict(
            "upload_incomplete",
            "This recording is made by LiveKit, not uploaded; it becomes ready by itself.",
          );
        }
        if (recording.status !== "uploading") {
          throw conflict(
            "upload_incomplete",
            `This upload can no longer be completed (${
              recording.error ?? `it is ${recording.status}`
            }); sign a new upload URL and upload the file again.`,
          );
        }

        const expected = {
          sizeBytes: Number(recording.expected_size_bytes),
          contentType: recording.content_type,
        };
        const stored = await requireStorage(options.storage).stat(
          recording.object_path!,
        );
        const found = stored &&
          { sizeBytes: stored.sizeBytes, contentType: stored.contentType };
        if (
          !found || found.sizeBytes !== expected.sizeBytes ||
          found.contentType?.toLowerCase() !== expected.contentType
        ) {
          throw conflict(
            "upload_incomplete",
            found
              ? `The uploaded file has ${found.sizeBytes} bytes of ${found.contentType}; ${expected.sizeBytes} bytes of ${expected.contentType} were announced.`
              : "The file has not been uploaded yet: PUT it to the signed URL first.",
            { expected, found: found ?? null },
          );
        }

        const now = clock.now();
        // As service_role, so only the checks written here decide: the caller's own upload,
        // still uploading, with the announced size. The Data API cannot make a row ready.
        const { row: completed, changed } = await db.asService(async (tx) => {
          // Queued before the lookup that follows it.
          const completing = tx`
            update public.recordings
               set status = 'ready', size_bytes = ${found.sizeBytes}, ready_at = ${now},
                   updated_at = ${now}
             where id = ${recordingId} and streamer_id = ${user.sub} and source = 'upload'
               and status = 'uploading' and expected_size_bytes = ${found.sizeBytes}`.execute();
          const [result, row] = await Promise.all([completing, findRecording(tx, recordingId)]);
          return { row, changed: result.count === 1 };
        });
        // Deleted meanwhile (by the family, or by reconcile's sweep): it is gone either way.
        if (!completed || completed.streamer_id !== user.sub || completed.status === "deleted") {
          throw recordingNotFound();
        }
        // Failed meanwhile (reconcile's sweep of uploads not completed within a day).
        if (completed.status !== "ready") {
          throw conflict(
            "upload_incomplete",
            "This upload can no longer be completed; sign a new upload URL and upload the file again.",
          );
        }
        // This call made it ready, so the trigger queued its emails in the same commit.
        if (changed) options.drain?.request(context.log);
        return json({ recording: toRecording(completed) });
      },
    ),
  });
}
