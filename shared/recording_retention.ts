/**
 * Recording retention, run by `reconcile`, as service_role:
 *
 * - uploads not completed within a day are removed, object and row: they first become `failed`
 *   (so `complete-upload`, which only completes `uploading` rows, can no longer race the
 *   sweep), then their object leaves the bucket (one never PUT is fine) and their row is
 *   deleted;
 * - ready and failed recordings older than `RECORDING_RETENTION_DAYS` are deleted the way
 *   `delete-recording` deletes them (object first, then the row is marked `deleted`).
 *
 * A recording whose object cannot be removed now stays as it is for the next run. The
 * bucket's lifecycle rule (README) deletes anything this misses.
 */
import type { Database } from "./kernel/db.ts";
import type { Logger } from "./kernel/log.ts";
import { describeError } from "./kernel/log.ts";
import { markRecordingsDeleted, removeRecordingObject } from "./recordings.ts";
import type { ObjectStorage } from "./storage.ts";

const DAY_MS = 24 * 60 * 60 * 1000;

/** The `error` an abandoned upload gets while it waits for its removal. */
export const UPLOAD_EXPIRED_ERROR = "The upload was not completed within a day.";

/** Options of {@linkcode applyRecordingRetention}. */
export interface RecordingRetentionOptions {
  db: Database;
  /** The bucket; without one, recordings that have an object are left for a later run. */
  storage: ObjectStorage | undefined;
  now: Date;
  /** Ready and failed recordings created (ready: made ready) more than this long ago go. */
  retentionDays: number;
  /** Recordings deleted, and abandoned uploads removed, per run at most. @default {500} */
  limit?: number;
  /** Objects removed at once. @default {8} */
  concurrency?: number;
  /** Told about recordings that could not be deleted this time. */
  log?: Logger;
}

/** What one run changed. */
export interface RecordingRetentionResult {
  /** Recordings marked deleted because they were older than the retention period. */
  recordingsExpired: number;
  /** Uploads not completed within a day, removed from the bucket and the table. */
  uploadsRemoved: number;
}

interface Target {
  id: string;
  object_path: string | null;
}

/** Applies retention once; safe to run concurrently and repeatedly. */
export async function applyRecordingRetention(
  options: RecordingRetentionOptions,
): Promise<RecordingRetentionResult> {
  const { db, now } = options;
  const limit = options.limit ?? 500;
  const dayAgo = new Date(now.getTime() - DAY_MS);
  const cutoff = new Date(now.getTime() - options.retentionDays * DAY_MS);
  const problems = { kept: 0, lastError: undefined as unknown };

  /** Removes the targets' objects; returns the ids whose object is gone. */
  async function removeObjects(targets: Target[]): Promise<string[]> {
    const removed: string[] = [];
    const queue = [...targets];
    async function worker() {
      for (let target = queue.shift(); target; target = queue.shift()) {
        try {
          await removeRecordingObject(options.storage, target);
          removed.push(target.id);
        } catch (error) {
          problems.kept++;
          problems.lastError = error;
        }
      }
    }
    await Promise.all(Array.from({ length: options.concurrency ?? 8 }, worker));
    return removed;
  }

  // Abandoned uploads: failed first, then removed.
  await db.asService((tx) =>
    tx`
      update public.recordings
         set status = 'failed', error = ${UPLOAD_EXPIRED_ERROR}, updated_at = ${now}
       where source = 'upload' and status = 'uploading' and created_at < ${dayAgo}`
  );
  const abandoned = await db.asService((tx) =>
    tx<Target[]>`
      select id, object_path from public.recordings
       where source = 'upload' and status = 'failed' and created_at < ${dayAgo}
       order by created_at
       limit ${limit}`
  );
  const uploadsGone = await removeObjects(abandoned);
  const uploadsRemoved = uploadsGone.length === 0
    ? []
    : await db.asService((tx) =>
      tx<{ id: string }[]>`
      delete from public.recordings
       where id in ${tx(uploadsGone)} and source = 'upload' and status = 'failed'
      returning id`
    );

  // Retention proper.
  const expired = await db.asService((tx) =>
    tx<Target[]>`
      select id, object_path from public.recordings
       where (status = 'ready' and ready_at < ${cutoff})
          or (status = 'failed' and created_at < ${cutoff})
       order by created_at
       limit ${limit}`
  );
  const expiredGone = await removeObjects(expired);
  const deleted = await db.asService((tx) => markRecordingsDeleted(tx, expiredGone, now));

  if (problems.kept > 0) {
    options.log?.warn("recordings kept: their objects could not be deleted", {
      kept: problems.kept,
      ...describeError(problems.lastError),
    });
  }
  return { recordingsExpired: deleted.length, uploadsRemoved: uploadsRemoved.length };
}
