/**
 * Recording retention, run by `reconcile`: uploads never completed within a day become
 * `failed`, and ready or failed recordings older than `RECORDING_RETENTION_DAYS` are deleted
 * the way `delete-recording` deletes them (object first, then the row). The bucket's lifecycle
 * rule (README) deletes anything this misses.
 */
import type { Database } from "./db.ts";
import type { Logger } from "./log.ts";
import { describeError } from "./log.ts";
import { markRecordingsDeleted, removeRecordingObject } from "./recordings.ts";
import type { ObjectStorage } from "./storage.ts";

const DAY_MS = 24 * 60 * 60 * 1000;

/** The `error` an abandoned upload gets. */
export const UPLOAD_EXPIRED_ERROR = "The upload was not completed within a day.";

/** Options of {@linkcode applyRecordingRetention}. */
export interface RecordingRetentionOptions {
  db: Database;
  /** The bucket; without one, recordings that have an object are left for a later run. */
  storage: ObjectStorage | undefined;
  now: Date;
  /** Ready and failed recordings created (ready: made ready) more than this long ago go. */
  retentionDays: number;
  /** Recordings deleted per run at most; the rest wait for the next run. @default {500} */
  limit?: number;
  /** Objects removed at once. @default {8} */
  concurrency?: number;
  /** Told about recordings that could not be deleted this time. */
  log?: Logger;
}

/** What one run changed. */
export interface RecordingRetentionResult {
  /** Recordings deleted because they were older than the retention period. */
  recordingsExpired: number;
  /** Uploads marked failed because they were not completed within a day. */
  recordingsUpdated: number;
}

/** Applies retention once; safe to run concurrently and repeatedly. */
export async function applyRecordingRetention(
  options: RecordingRetentionOptions,
): Promise<RecordingRetentionResult> {
  const { db, now } = options;
  const limit = options.limit ?? 500;
  const dayAgo = new Date(now.getTime() - DAY_MS);
  const cutoff = new Date(now.getTime() - options.retentionDays * DAY_MS);

  const failed = await db.asService((tx) =>
    tx<{ id: string }[]>`
      update public.recordings
         set status = 'failed', error = ${UPLOAD_EXPIRED_ERROR}, updated_at = ${now}
       where status = 'uploading' and created_at < ${dayAgo}
      returning id`
  );

  const expired = await db.asService((tx) =>
    tx<{ id: string; object_path: string | null }[]>`
      select id, object_path from public.recordings
       where (status = 'ready' and ready_at < ${cutoff})
          or (status = 'failed' and created_at < ${cutoff})
       order by created_at
       limit ${limit}`
  );

  const removed: string[] = [];
  let kept = 0;
  let lastError: unknown;
  const queue = [...expired];
  async function worker() {
    for (let recording = queue.shift(); recording; recording = queue.shift()) {
      try {
        await removeRecordingObject(options.storage, recording);
        removed.push(recording.id);
      } catch (error) {
        kept++;
        lastError = error;
      }
    }
  }
  await Promise.all(Array.from({ length: options.concurrency ?? 8 }, worker));
  if (kept > 0) {
    options.log?.warn(
      "expired recordings kept: their objects could not be deleted",
      {
        kept,
        ...describeError(lastError),
      },
    );
  }

  const deleted = await db.asService((tx) => markRecordingsDeleted(tx, removed, now));
  return {
    recordingsExpired: deleted.length,
    recordingsUpdated: failed.length,
  };
}
