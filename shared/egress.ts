/**
 * LiveKit egress as recordings. Egress reports arrive as protobuf JSON (`EgressInfo.toJson()`)
 * from webhooks and from `ListEgress`, in any order and any number of times; applying one
 * only ever moves a recording forward, so every order converges on the same row.
 */
import type { Tx } from "./kernel/db.ts";
import { isSafeObjectPath } from "./object_paths.ts";

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
export type EgressRecordingStatus = "pending" | "recording" | "processing" | "ready" | "failed";

const STATUS_OF: Record<string, EgressRecordingStatus> = {
  EGRESS_STARTING: "pending",
  EGRESS_ACTIVE: "recording",
  EGRESS_ENDING: "processing",
  EGRESS_COMPLETE: "ready",
  EGRESS_LIMIT_REACHED: "ready",
  EGRESS_FAILED: "failed",
  EGRESS_ABORTED: "failed",
};

/**
 * The object path prefix of a session's egress recordings (`private.apply_egress_report`
 * checks reported paths against the same prefix).
 */
export function recordingPrefix(streamerId: string, sessionId: string): string {
  return `recordings/${streamerId}/${sessionId}/`;
}

function nanosToDate(value: string | undefined): Date | null {
  if (!value || value === "0") return null;
  return new Date(Number(BigInt(value) / 1_000_000n));
}

/**
 * The object path inside the bucket: the file name, or the path of its location URL. A path
 * with a `.` or `..` segment is not taken (null, as if the report named none): it could name
 * another streamer's object once normalised, and the database refuses it. A location is
 * checked as LiveKit wrote it, since URL parsing resolves such segments (`%2e%2e` too) into a
 * path that looks plain.
 */
function objectPathOf(file: NonNullable<EgressJson["file"]>, bucket?: string): string | null {
  const path = reportedPath(file, bucket);
  return path !== null && isSafeObjectPath(path) ? path : null;
}

function reportedPath(file: NonNullable<EgressJson["file"]>, bucket?: string): string | null {
  if (file.filename && !file.filename.includes("://")) return file.filename.replace(/^\/+/, "");
  const location = file.location ?? file.filename;
  if (!location) return null;
  try {
    const written = decodeURIComponent(location.replace(/[?#].*$/s, "")).replace(/^[^/]*:\/\//, "");
    if (!isSafeObjectPath(written)) return null;
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

/** Options of {@linkcode applyEgressReport}. */
export interface ApplyEgressReportOptions {
  session: EgressSession;
  report: EgressReport;
  /** When it is processed. */
  now: Date;
}

/** What `private.apply_egress_report` did with a report. */
export type EgressReportResult = "created" | "updated" | "unchanged";

/**
 * Creates or moves forward the recording of `report` (`private.apply_egress_report`: by
 * egress id; a report of an egress not seen yet claims the session's pending recording that
 * has none; a report without an egress id is a failed auto egress and fails the session's
 * recording that no egress claimed). Returns what it did. The caller holds the session's row
 * lock, which serialises reports of one session.
 */
export async function applyEgressReport(
  tx: Tx,
  options: ApplyEgressReportOptions,
): Promise<EgressReportResult> {
  const { session, report, now } = options;
  const [{ result }] = await tx<{ result: EgressReportResult }[]>`
    select private.apply_egress_report(p_session_id => ${session.id},
                                       p_streamer_id => ${session.streamer_id},
                                       p_report => ${tx.json(reportJson(report))},
                                       p_now => ${now}) as result`;
  return result;
}

/**
 * A report as `private.apply_egress_report` and `private.webhook_apply` read it (`p_report`,
 * and `egress` of `p_input`): times as ISO strings. A type rather than an interface, so that it
 * is a JSON value for postgres.js.
 */
export type EgressReportJson = {
  egressId: string;
  status: EgressRecordingStatus;
  truncated: boolean;
  startedAt: string | null;
  endedAt: string | null;
  error: string | null;
  objectPath: string | null;
  sizeBytes: number | null;
  durationSeconds: number | null;
};

/** A report as the database reads it. */
export function reportJson(report: EgressReport): EgressReportJson {
  return {
    ...report,
    startedAt: report.startedAt?.toISOString() ?? null,
    endedAt: report.endedAt?.toISOString() ?? null,
  };
}
