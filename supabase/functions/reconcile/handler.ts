/**
 * `POST reconcile` (service only, run on a schedule): heals what lost webhooks left behind.
 * Sessions never live after 10 minutes end as `abandoned`; sessions whose room no longer
 * exists in LiveKit end; recordings stuck in pending, recording or processing are refreshed
 * from LiveKit's egress list; rooms of ended sessions that still exist are deleted; and
 * recording retention is applied (uploads not completed within a day are removed, object and
 * row). The sweeps are the functions of sweeps.ts; this handler runs them in order. Every
 * run, succeeded or failed, is recorded for the operator's view (runs.ts).
 */
import { z } from "zod";
import { type TokenVerifier, withService } from "../../../shared/kernel/auth.ts";
import { readJson } from "../../../shared/kernel/body.ts";
import type { Database } from "../../../shared/kernel/db.ts";
import {
  createFunction,
  type HandlerOptions,
  json,
  toHttpError,
} from "../../../shared/kernel/http.ts";
import { listRoomNames, type LiveKitSettings } from "../../../shared/livekit.ts";
import { describeError } from "../../../shared/kernel/log.ts";
import type { RecordingRetentionResult } from "../../../shared/recording_retention.ts";
import {
  abandonStaleSessions,
  deleteEndedRooms,
  endRoomlessSessions,
  purgeExpired,
  refreshStuckRecordings,
  type SweepContext,
} from "./sweeps.ts";
import { recordReconcileRun } from "./runs.ts";

/** Options of {@linkcode createReconcileHandler}. */
export interface ReconcileOptions extends HandlerOptions {
  db: Database;
  verifier: TokenVerifier;
  livekit: LiveKitSettings;
  /**
   * Applies recording retention (`applyRecordingRetention` in shared/recording_retention.ts).
   * Both kinds of removal are reported as `recordingsExpired`: an upload not completed within
   * a day has expired too.
   */
  retention?: (now: Date) => Promise<RecordingRetentionResult>;
  /** The recordings bucket, as egress reports name it. */
  bucket?: string;
}

const NO_RETENTION: RecordingRetentionResult = { recordingsExpired: 0, uploadsRemoved: 0 };

/** Builds the `reconcile` function. */
export function createReconcileHandler(options: ReconcileOptions) {
  const { db, clock, livekit, bucket } = options;

  return createFunction({ ...options, name: "reconcile" }, {
    POST: withService({ verifier: options.verifier }, async (request, context) => {
      await readJson(request, z.strictObject({}));
      const now = clock.now();
      try {
        const sweep: SweepContext = { db, livekit, bucket, now, log: context.log };
        const sessionsAbandoned = await abandonStaleSessions(sweep);
        const retention = options.retention ? await options.retention(now) : NO_RETENTION;
        const rooms = await listRoomNames(livekit);
        const roomless = await endRoomlessSessions(sweep, rooms);
        const recordingsUpdated = await refreshStuckRecordings(sweep);
        await deleteEndedRooms(sweep, rooms);
        await purgeExpired(sweep);
        const result = {
          sessionsEnded: roomless.ended,
          sessionsAbandoned: sessionsAbandoned + roomless.abandoned,
          recordingsUpdated,
          recordingsExpired: retention.recordingsExpired + retention.uploadsRemoved,
        };
        await recordReconcileRun(db, {
          startedAt: now,
          finishedAt: clock.now(),
          end: { outcome: "succeeded", result },
        });
        context.annotate(result);
        return json(result);
      } catch (error) {
        // Only the contract's code is kept: a message can carry what a dependency said.
        await recordReconcileRun(db, {
          startedAt: now,
          finishedAt: clock.now(),
          end: { outcome: "failed", errorCode: toHttpError(error).code },
        }).catch((failure) => context.log.warn("run not recorded", describeError(failure)));
        throw error;
      }
    }),
  });
}
