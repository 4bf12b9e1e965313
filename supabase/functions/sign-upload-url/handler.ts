/**
 * `POST sign-upload-url`: the streamer announces a recording of their session made on the
 * headset, gets an `uploading` recording and a V4 signed `PUT` URL, valid 15 minutes, that
 * binds the content type and the exact size. The object name is the server's:
 * `uploads/{streamerId}/{sessionId}/{recordingId}.{ext}`.
 */
import { z } from "zod";
import { type TokenVerifier, withUser } from "../../../shared/auth.ts";
import { readJson } from "../../../shared/body.ts";
import type { Clock } from "../../../shared/clock.ts";
import type { CorsOptions } from "../../../shared/cors.ts";
import type { Database } from "../../../shared/db.ts";
import { forbidden, HttpError } from "../../../shared/errors.ts";
import { createFunction, json } from "../../../shared/http.ts";
import type { LogSink } from "../../../shared/log.ts";
import { enforceRateLimit } from "../../../shared/rate_limit.ts";
import {
  MAX_UPLOAD_BYTES,
  requireStorage,
  UPLOAD_EXTENSIONS,
  uploadObjectName,
} from "../../../shared/recordings.ts";
import { type RecordingRow, sessionNotFound, toRecording } from "../../../shared/sessions.ts";
import type { ObjectStorage } from "../../../shared/storage.ts";

const Body = z.strictObject({
  sessionId: z.uuid(),
  contentType: z.string().min(1).max(255),
  sizeBytes: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
});

/** Each call creates a row and a credential: a streamer gets 30 a minute. */
const LIMIT = { name: "sign-upload-url", limit: 30, windowSeconds: 60 };

/** Options of {@linkcode createSignUploadUrlHandler}. */
export interface SignUploadUrlOptions {
  db: Database;
  verifier: TokenVerifier;
  /** The bucket; without one every call is `503 storage_unavailable`. */
  storage: ObjectStorage | undefined;
  cors: CorsOptions;
  clock: Clock;
  logSink?: LogSink;
}

/** Builds the `sign-upload-url` function. */
export function createSignUploadUrlHandler(options: SignUploadUrlOptions) {
  const { db, clock } = options;
  return createFunction({
    name: "sign-upload-url",
    cors: options.cors,
    logSink: options.logSink,
  }, {
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
        await enforceRateLimit(db, LIMIT, user.sub, clock);

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

        const recording = await db.asUser(user, async (tx) => {
          const [created] = await tx<RecordingRow[]>`
          insert into public.recordings
            (id, session_id, streamer_id, source, status, object_path, content_type,
             expected_size_bytes, created_at, updated_at)
          select ${recordingId}, s.id, s.streamer_id, 'upload', 'uploading', ${objectName},
                 ${contentType}, ${input.sizeBytes}, ${now}, ${now}
            from public.stream_sessions s
           where s.id = ${input.sessionId} and s.streamer_id = ${user.sub}
          returning id, session_id, streamer_id, source, status, content_type, size_bytes,
                    duration_seconds, created_at, ready_at, error, object_path`;
          if (created) return created;
          const [session] = await tx<{ id: string }[]>`
          select id from public.stream_sessions where id = ${input.sessionId}`;
          if (!session) {
            throw sessionNotFound();
          }
          throw forbidden(
            "Only the streamer can upload a recording of their session.",
          );
        });

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
