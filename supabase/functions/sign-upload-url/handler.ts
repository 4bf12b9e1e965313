/**
 * `POST sign-upload-url`: the streamer announces a recording of their session made on the
 * headset, gets an `uploading` recording and a V4 signed `PUT` URL, valid 15 minutes, that
 * binds the content type and the exact size. The object name is the server's:
 * `uploads/{streamerId}/{sessionId}/{recordingId}.{ext}`. The URL only creates the object
 * (`x-goog-if-generation-match: 0`), and a streamer's signed sizes stay within
 * `UPLOAD_QUOTA_BYTES_PER_DAY` per rolling 24 hours (`private.start_upload`), else
 * `429 rate_limited` with `Retry-After`.
 */
import { z } from "zod";
import { type TokenVerifier, withUser } from "../../../shared/kernel/auth.ts";
import { readJson } from "../../../shared/kernel/body.ts";
import type { Database } from "../../../shared/kernel/db.ts";
import { forbidden, HttpError } from "../../../shared/kernel/errors.ts";
import { createFunction, type HandlerOptions, json } from "../../../shared/kernel/http.ts";
import { enforceRateLimit } from "../../../shared/kernel/rate_limit.ts";
import {
  MAX_UPLOAD_BYTES,
  recordingFromJson,
  type RecordingJson,
  requireStorage,
  UPLOAD_EXTENSIONS,
  uploadObjectName,
} from "../../../shared/recordings.ts";
import { findSession, sessionNotFound, toRecording } from "../../../shared/sessions.ts";
import type { ObjectStorage } from "../../../shared/storage.ts";

const Body = z.strictObject({
  sessionId: z.uuid(),
  contentType: z.string().min(1).max(255),
  sizeBytes: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
});

/** Each call creates a row and a credential: a streamer gets 30 a minute. */
const LIMIT = { name: "sign-upload-url", limit: 30, windowSeconds: 60 };

/** What `private.start_upload` answers. */
interface StartUpload {
  outcome: "created" | "not_found" | "quota_exceeded";
  retry_after_seconds: number;
  recording: RecordingJson | null;
}

/** The `429` of an upload over the rolling 24-hour quota, with `Retry-After`. */
function uploadQuotaExceeded(quotaBytes: number, retryAfterSeconds: number): HttpError {
  const retryAfter = Math.max(1, retryAfterSeconds);
  return new HttpError(
    429,
    "rate_limited",
    `Uploads are limited to ${quotaBytes} bytes a day per streamer; this one fits again in ${retryAfter} seconds.`,
    { headers: { "retry-after": String(retryAfter) } },
  );
}

/** Options of {@linkcode createSignUploadUrlHandler}. */
export interface SignUploadUrlOptions extends HandlerOptions {
  db: Database;
  verifier: TokenVerifier;
  /** The bucket; without one every call is `503 storage_unavailable`. */
  storage: ObjectStorage | undefined;
  /** Signed upload size a streamer may have per rolling 24 hours (`UPLOAD_QUOTA_BYTES_PER_DAY`). */
  quotaBytesPerDay: number;
}

/** Builds the `sign-upload-url` function. */
export function createSignUploadUrlHandler(options: SignUploadUrlOptions) {
  const { db, clock } = options;
  return createFunction({ ...options, name: "sign-upload-url" }, {
    POST: withUser(
      { verifier: options.verifier },
      async (request, context, user) => {
        const input = await readJson(request, Body);
        const contentType = input.contentType.trim().toLowerCase();
        const extension = UPLOAD_EXTENSIONS[contentType];
        if (!extension) {
          throw new HttpError(
            415,
            "unsupported_media_type",
            `A recording must be video/mp4 or video/webm, not ${
              JSON.stringify(input.contentType)
            }.`,
          );
        }
        if (input.sizeBytes > MAX_UPLOAD_BYTES) {
          throw new HttpError(
            413,
            "payload_too_large",
            `A recording can be at most ${MAX_UPLOAD_BYTES} bytes (500 MiB); this one has ${input.sizeBytes}.`,
          );
        }
        const storage = requireStorage(options.storage);
        await enforceRateLimit(db, { limit: LIMIT, subject: user.sub, clock });

        const now = clock.now();
        const recordingId = crypto.randomUUID();
        const objectName = uploadObjectName(
          { streamerId: user.sub, sessionId: input.sessionId, recordingId },
          extension,
        );
        context.annotate({ sessionId: input.sessionId, recordingId });
        // Signed first: it is offline, and a failure then leaves no row behind.
        const upload = await storage.signUpload(objectName, {
          contentType,
          sizeBytes: input.sizeBytes,
          now,
        });

        // The row, as service_role, only for the session's own streamer and within the quota.
        const [started] = await db.sql<StartUpload[]>`
          select outcome, retry_after_seconds, recording
            from private.start_upload(
              p_streamer_id => ${user.sub}, p_session_id => ${input.sessionId},
              p_recording_id => ${recordingId}, p_object_path => ${objectName},
              p_content_type => ${contentType}, p_size_bytes => ${input.sizeBytes},
              p_quota_bytes => ${options.quotaBytesPerDay}, p_now => ${now})`;
        if (started.outcome === "quota_exceeded") {
          throw uploadQuotaExceeded(options.quotaBytesPerDay, started.retry_after_seconds);
        }
        if (started.outcome === "not_found") {
          // Not theirs: a guardian who can see the session may not upload to it (403); anyone
          // else must not learn that it exists (404).
          const visible = await db.asUser(user, (tx) => findSession(tx, input.sessionId));
          if (!visible) throw sessionNotFound();
          throw forbidden("Only the streamer can upload a recording of their session.");
        }
        const recording = recordingFromJson(started.recording!);

        return json(
          {
            recording: toRecording(recording),
            upload: {
              url: upload.url,
              method: upload.method,
              headers: upload.headers,
              expiresAt: upload.expiresAt.toISOString(),
            },
          },
          201,
          { "cache-control": "no-store" },
        );
      },
    ),
  });
}
