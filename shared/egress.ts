/**
 * LiveKit egress as recordings. Egress reports arrive as protobuf JSON (`EgressInfo.toJson()`)
 * from webhooks and from `ListEgress`, in any order and any number of times; applying one
 * only ever moves a recording forward, so every order converges on the same row.
 */
import type { Tx } from "./db.ts";

/** `EgressInfo` as protobuf JSON: int64 as strings, enums as names, defaults omitted. */
export interface EgressJson {
  egressId?: string;
  roomName?: string;
  status?: string;
  startedAt?: string;
  endedAt?: string;
  error?: string;
  fileResults?: { filename?: string; size?: string; duration?: string; location?: string }[];
  file?: { filename?: string; size?: string; duration?: string; location?: string };
}

/** A recording status of the contract with the rank it may only grow by. */
type EgressRecordingStatus = "pending" | "recording" | "processing" | "ready" | "failed";

const STATUS_OF: Record<string, EgressRecordingStatus> = {
  EGRESS_STARTING: "pending",
  EGRESS_ACTIVE: "recording",
  EGRESS_ENDING: "processing",
  EGRESS_COMPLETE: "ready",
  EGRESS_LIMIT_REACHED: "ready",
  EGRESS_FAILED: "failed",
  EGRESS_ABORTED: "failed",
};

const RANK: Record<string, number> = {
  pending: 0,
  recording: 1,
  processing: 2,
  ready: 3,
  failed: 3,
  deleted: 4,
};

/** The object path prefix of a session's egress recordings. */
export function recordingPrefix(streamerId: string, sessionId: string): string {
  return `recordings/${streamerId}/${sessionId}/`;
}

function nanosToDate(value: string | undefined): Date | null {
  if (!value || value === "0") return null;
  return new Date(Number(BigInt(value) / 1_000_000n));
}

/** The object path inside the bucket: the file name, or the path of its location URL. */
function objectPathOf(file: NonNullable<EgressJson["file"]>, bucket?: string): string | null {
  if (file.filename && !file.filename.includes("://")) return file.filename.replace(/^\/+/, "");
  const location = file.location ?? file.filename;
  if (!location) return null;
  try {
    const url = new URL(location);
    let path = decodeURIComponent(url.pathname).replace(/^\/+/, "");
    if (url.protocol === "gs:") return path;
    if (bucket && path.startsWith(`${bucket}/`)) path = path.slice(bucket.length + 1);
    return path;
  } catch {
    return null;
  }
}

/** What one egress report says, in the recording's terms. */
export interface EgressReport {
  egressId: string;
  status: EgressRecordingStatus;
  truncated: boolean;
  startedAt: Date | null;
  endedAt: Date | null;
  error: string | null;
  objectPath: string | null;
  sizeBytes: number | null;
  durationSeconds: number | null;
}

/** Reads an egress report. */
export function readEgress(info: EgressJson, options: { bucket?: string } = {}): EgressReport {
  const egressStatus = info.status ?? "EGRESS_STARTING";
  const file = info.fileResults?.[0] ?? info.file;
  const status = STATUS_OF[egressStatus] ?? "pending";
  return {
    egressId: info.egressId ?? "",
    status,
    truncated: egressStatus === "EGRESS_LIMIT_REACHED",
    startedAt: nanosToDate(info.startedAt),
    endedAt: nanosToDate(info.endedAt),
    error: status === "failed" ? info.error || egressStatus.toLowerCase() : null,
    objectPath: file ? objectPathOf(file, options.bucket) : null,
    sizeBytes: file?.size ? Number(file.size) : null,
    durationSeconds: file?.duration ? Number(BigInt(file.duration) / 1_000_000n) / 1000 : null,
  };
}

/** The session an egress belongs to. */
export interface EgressSession {
  id: string;
  streamer_id: string;
}

interface RecordingState {
  id: string;
  status: string;
}

/**
 * Creates or moves forward the recording of `report` (by egress id; a report of an egress
 * not seen yet claims the session's pending recording that has none). A report without an
 * egress id is a failed auto egress: it fails the session's pending recording. Returns what
 * it did. The caller holds the session's row lock, which serialises reports of one session.
 */
export async function applyEgressReport(
  tx: Tx,
  session: EgressSession,
  report: EgressReport,
  now: Date,
): Promise<"created" | "updated" | "unchanged"> {
  if (!report.egressId) {
    if (report.status !== "failed") return "unchanged";
    const failed = await tx`
      update public.recordings
         set status = 'failed', error = ${report.error}, updated_at = ${now}
       where session_id = ${session.id} and source = 'egress' and egress_id is null
         and status = 'pending'`;
    return failed.count > 0 ? "updated" : "unchanged";
  }

  let [recording] = await tx<RecordingState[]>`
    select id, status from public.recordings where egress_id = ${report.egressId} for update`;
  let created = false;
  if (!recording) {
    [recording] = await tx<RecordingState[]>`
      update public.recordings set egress_id = ${report.egressId}, updated_at = ${now}
       where id = (select id from public.recordings
                    where session_id = ${session.id} and source = 'egress'
                      and egress_id is null and status = 'pending'
                    order by created_at limit 1)
      returning id, status`;
  }
  if (!recording) {
    [recording] = await tx<RecordingState[]>`
      insert into public.recordings
        (session_id, streamer_id, source, status, egress_id, content_type, created_at, updated_at)
      values (${session.id}, ${session.streamer_id}, 'egress', 'pending', ${report.egressId},
              'video/mp4', ${report.startedAt ?? now}, ${now})
      returning id, status`;
    created = true;
  }

  const forward = RANK[report.status] > RANK[recording.status];
  const sameStage = RANK[report.status] === RANK[recording.status] &&
    report.status === recording.status;
  if (!forward && !sameStage) return created ? "created" : "unchanged";
  const status = forward ? report.status : recording.status;
  const readyAt = status === "ready" ? report.endedAt ?? now : null;
  // Object paths LiveKit reports outside the session's prefix are not trusted as ours.
  const prefix = recordingPrefix(session.streamer_id, session.id);
  const objectPath = report.objectPath?.startsWith(prefix) ? report.objectPath : null;
  const result = await tx`
    update public.recordings
       set status = ${status},
           started_at = least(coalesce(started_at, ${report.startedAt}), ${report.startedAt}),
           ready_at = coalesce(ready_at, ${readyAt}),
           object_path = coalesce(${objectPath}, object_path),
           size_bytes = coalesce(${report.sizeBytes}, size_bytes),
           duration_seconds = coalesce(${report.durationSeconds}, duration_seconds),
           truncated = truncated or ${report.truncated},
           error = coalesce(${report.error}, error),
           updated_at = ${now}
     where id = ${recording.id}
       and (status is distinct from ${status} or object_path is distinct from coalesce(${objectPath}, object_path)
            or size_bytes is distinct from coalesce(${report.sizeBytes}, size_bytes)
            or duration_seconds is distinct from coalesce(${report.durationSeconds}, duration_seconds)
            or started_at is distinct from least(coalesce(started_at, ${report.startedAt}), ${report.startedAt})
            or truncated is distinct from (truncated or ${report.truncated})
            or error is distinct from coalesce(${report.error}, error))`;
  if (created) return "created";
  return result.count > 0 ? "updated" : "unchanged";
}
