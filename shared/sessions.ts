/**
 * Sessions and recordings as the contract shows them, and the queries several functions
 * share. Every query here runs inside `asUser` or `asService`, or as one statement that
 * becomes the user first, so RLS decides visibility.
 */
import { claimsParameter, type Database, type JwtClaims, type Tx } from "./kernel/db.ts";
import { type HttpError, notFound } from "./kernel/errors.ts";

/** The 404 for a session id the caller may not see (or that does not exist). */
export function sessionNotFound(): HttpError {
  return notFound("No session with this id is visible to you.");
}

/** A `stream_sessions` row with its latest egress recording status. */
export interface SessionRow {
  id: string;
  streamer_id: string;
  title: string | null;
  status: "starting" | "live" | "ended";
  end_reason: string | null;
  room_name: string;
  record: boolean;
  created_at: Date;
  started_at: Date | null;
  ended_at: Date | null;
  duration_seconds: string | null;
  viewers_current: number;
  viewers_peak: number;
  viewers_total: number;
  recording_status: string | null;
}

/** A `recordings` row. */
export interface RecordingRow {
  id: string;
  session_id: string;
  streamer_id: string;
  source: "egress" | "upload";
  status: string;
  content_type: string;
  size_bytes: string | null;
  duration_seconds: string | null;
  created_at: Date;
  ready_at: Date | null;
  error: string | null;
  object_path: string | null;
}

function iso(value: Date | null): string | null {
  return value ? value.toISOString() : null;
}

function numberOrNull(value: string | number | null): number | null {
  return value === null ? null : Number(value);
}

/** The contract's Session object. */
export function toSession(row: SessionRow) {
  return {
    id: row.id,
    streamerId: row.streamer_id,
    title: row.title,
    status: row.status,
    endReason: row.end_reason,
    roomName: row.room_name,
    createdAt: row.created_at.toISOString(),
    startedAt: iso(row.started_at),
    endedAt: iso(row.ended_at),
    durationSeconds: numberOrNull(row.duration_seconds),
    viewers: {
      current: row.viewers_current,
      peak: row.viewers_peak,
      total: row.viewers_total,
    },
    recording: { enabled: row.record, status: row.record ? row.recording_status : null },
  };
}

/** The contract's Recording object. */
export function toRecording(row: RecordingRow) {
  return {
    id: row.id,
    sessionId: row.session_id,
    source: row.source,
    status: row.status,
    contentType: row.content_type,
    sizeBytes: numberOrNull(row.size_bytes),
    durationSeconds: numberOrNull(row.duration_seconds),
    createdAt: row.created_at.toISOString(),
    readyAt: iso(row.ready_at),
    error: row.error,
  };
}

// The session reads are plpgsql functions (`private.session_by_id`,
// `private.user_active_sessions`; supabase/README.md names where each is defined), whose plans
// Postgres keeps for the connection: with the transaction pooler, a plain query is planned anew
// each time, RLS policies and all. They return the columns of SessionRow.

/** One session visible in this transaction, or undefined. */
export async function findSession(tx: Tx, sessionId: string): Promise<SessionRow | undefined> {
  const [row] = await tx<SessionRow[]>`select * from private.session_by_id(${sessionId})`;
  return row;
}

/**
 * Starting and live sessions of the user of `claims` and of the streamers who made them an
 * active guardian, newest first, in one statement of its own (`private.user_active_sessions`):
 * RLS decides as inside `asUser`.
 */
export async function listActiveSessionsAs(
  db: Database,
  claims: JwtClaims,
  limit = 100,
): Promise<SessionRow[]> {
  return await db.sql<SessionRow[]>`
    select * from private.user_active_sessions(${claimsParameter(claims)}, ${limit})`;
}

/** A session as `to_jsonb` gives it (the one-statement operations return it so). */
export type SessionJson =
  & Omit<SessionRow, "created_at" | "started_at" | "ended_at" | "duration_seconds">
  & {
    created_at: string;
    started_at: string | null;
    ended_at: string | null;
    duration_seconds: number | null;
  };

/** A {@linkcode SessionRow} from its JSON form. */
export function sessionFromJson(json: SessionJson): SessionRow {
  const date = (value: string | null) => value === null ? null : new Date(value);
  return {
    ...json,
    created_at: new Date(json.created_at),
    started_at: date(json.started_at),
    ended_at: date(json.ended_at),
    duration_seconds: json.duration_seconds === null ? null : String(json.duration_seconds),
  };
}

/** A session's recordings that are not deleted, oldest first. */
export async function listRecordings(tx: Tx, sessionId: string): Promise<RecordingRow[]> {
  return await tx<RecordingRow[]>`
    select id, session_id, streamer_id, source, status, content_type, size_bytes,
           duration_seconds, created_at, ready_at, error, object_path
      from public.recordings
     where session_id = ${sessionId} and status <> 'deleted'
     order by created_at`;
}
