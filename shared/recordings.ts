/**
 * Recordings as the recording functions and retention share them: the lookup (with the
 * session's title for the download's file name), where uploads go, and deletion, which
 * removes the object before it marks the row, so a row never says `deleted` while its object
 * is still in the bucket.
 */
import type { Tx } from "./kernel/db.ts";
import { HttpError, notFound } from "./kernel/errors.ts";
import type { RecordingRow } from "./sessions.ts";
import { isSafeObjectPath } from "./object_paths.ts";
import type { ObjectStorage } from "./storage.ts";

/** A recording as `to_jsonb` gives it (the owner-only SQL functions return it so). */
export type RecordingJson =
  & Omit<RecordingRow, "created_at" | "ready_at" | "size_bytes" | "duration_seconds">
  & {
    created_at: string;
    ready_at: string | null;
    size_bytes: number | null;
    duration_seconds: number | null;
  };

/** A {@linkcode RecordingRow} from its JSON form. */
export function recordingFromJson(json: RecordingJson): RecordingRow {
  const text = (value: number | null) => value === null ? null : String(value);
  return {
    ...json,
    created_at: new Date(json.created_at),
    ready_at: json.ready_at === null ? null : new Date(json.ready_at),
    size_bytes: text(json.size_bytes),
    duration_seconds: text(json.duration_seconds),
  };
}

/** The 404 for a recording id the caller may not see (or that does not exist). */
export function recordingNotFound(): HttpError {
  return notFound("No recording with this id is visible to you.");
}

/** The upload types the contract accepts, with their file extensions. */
export const UPLOAD_EXTENSIONS: Readonly<Record<string, string>> = {
  "video/mp4": "mp4",
  "video/webm": "webm",
};

/** The largest upload: 500 MiB. */
export const MAX_UPLOAD_BYTES = 524_288_000;

/** How long a signed download URL lives at most: 15 minutes. */
export const DOWNLOAD_URL_LIFETIME_SECONDS = 15 * 60;

/** A recording with what its download's file name is made of. */
export interface RecordingDetail extends RecordingRow {
  expected_size_bytes: string | null;
  session_title: string | null;
  session_started_at: Date | null;
}

/** Egress statuses in which LiveKit may still write the object. */
const IN_PROGRESS = new Set(["pending", "recording", "processing"]);

/** One recording visible in this transaction (deleted ones included), or undefined. */
export async function findRecording(
  tx: Tx,
  recordingId: string,
): Promise<RecordingDetail | undefined> {
  const [row] = await tx<RecordingDetail[]>`
    select r.id, r.session_id, r.streamer_id, r.source, r.status, r.content_type, r.size_bytes,
           r.expected_size_bytes, r.duration_seconds, r.created_at, r.ready_at, r.error,
           r.object_path, s.title as session_title, s.started_at as session_started_at
      from public.recordings r
      join public.stream_sessions s on s.id = r.session_id
     where r.id = ${recordingId}`;
  return row;
}

/** The object name of an upload: chosen by the server, never from what the client sends. */
export function uploadObjectName(
  recording: { streamerId: string; sessionId: string; recordingId: string },
  extension: string,
): string {
  const name =
    `uploads/${recording.streamerId}/${recording.sessionId}/${recording.recordingId}.${extension}`;
  if (!isSafeObjectPath(name)) throw new Error("An upload's ids made an unsafe object name");
  return name;
}

/** The storage, or `503 storage_unavailable` when this deployment has no bucket configured. */
export function requireStorage(
  storage: ObjectStorage | undefined,
): ObjectStorage {
  if (storage) return storage;
  throw new HttpError(
    503,
    "storage_unavailable",
    "Recording storage is not configured on this server.",
    { cause: new Error("GCS_BUCKET and GCS_CREDENTIALS are not set") },
  );
}

/** Whether LiveKit may still be writing this recording, so deleting it now would not stick. */
export function isInProgress(
  recording: Pick<RecordingRow, "source" | "status">,
): boolean {
  return recording.source === "egress" && IN_PROGRESS.has(recording.status);
}

/**
 * Removes the object of a recording from the bucket; one already gone is fine. Recordings
 * without an object (an egress that never wrote one) need no storage.
 */
export async function removeRecordingObject(
  storage: ObjectStorage | undefined,
  recording: Pick<RecordingRow, "object_path">,
): Promise<void> {
  if (!recording.object_path) return;
  await requireStorage(storage).remove(recording.object_path);
}

/**
 * Marks recordings deleted (those not deleted yet). Run it only after their objects are gone.
 * Returns the ids it changed.
 */
export async function markRecordingsDeleted(
  tx: Tx,
  recordingIds: string[],
  now: Date,
): Promise<string[]> {
  if (recordingIds.length === 0) return [];
  const rows = await tx<{ id: string }[]>`
    update public.recordings
       set status = 'deleted', deleted_at = ${now}, updated_at = ${now}
     where id in ${tx(recordingIds)} and status <> 'deleted'
    returning id`;
  return rows.map((row) => row.id);
}

/**
 * The `Content-Disposition` of a download: `inline` (the viewer plays it) with a file name made
 * of the session's title and date, such as `First stream 2026-01-05.mp4`, in ASCII and, when
 * the title needs more, in UTF-8 as RFC 6266 `filename*`.
 */
export function recordingContentDisposition(
  recording: RecordingDetail,
): string {
  const day = (recording.session_started_at ?? recording.created_at)
    .toISOString().slice(0, 10);
  const extension = UPLOAD_EXTENSIONS[recording.content_type] ?? "mp4";
  const title = (recording.session_title ?? "")
    .normalize("NFC")
    .replace(/[\p{Cc}\p{Cf}\\/:*?"<>|]+/gu, " ")
    .replace(/\s+/g, " ")
    .trim()
    .slice(0, 80)
    .trim();
  const ascii = title.normalize("NFKD").replace(/[^A-Za-z0-9 ._-]+/g, "")
    .replace(/\s+/g, " ")
    .replace(/^[ .]+|[ .]+$/g, "");
  const asciiName = `${ascii || "Recording"} ${day}.${extension}`;
  const fullName = `${title || "Recording"} ${day}.${extension}`;
  if (fullName === asciiName) return `inline; filename="${asciiName}"`;
  return `inline; filename="${asciiName}"; filename*=UTF-8''${encodeRfc5987(fullName)}`;
}

function encodeRfc5987(value: string): string {
  return encodeURIComponent(value).replace(
    /['()*]/g,
    (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}
