/**
 * Each reconcile run leaves a row for the operator's view (`ops`): when it ran and its counts,
 * or the contract's error code of its failure (private.record_reconcile_run).
 */
import type { Database } from "../../../shared/kernel/db.ts";

/** How one run ended. */
export type ReconcileRunEnd =
  | { outcome: "succeeded"; result: Record<string, number> }
  | { outcome: "failed"; errorCode: string };

/** Options of {@linkcode recordReconcileRun}. */
export interface RecordReconcileRunOptions {
  startedAt: Date;
  finishedAt: Date;
  end: ReconcileRunEnd;
}

/** Records one run (and drops runs older than 30 days) in one statement. */
export async function recordReconcileRun(
  db: Database,
  options: RecordReconcileRunOptions,
): Promise<void> {
  const { end } = options;
  await db.sql`
    select private.record_reconcile_run(
      p_started_at => ${options.startedAt},
      p_finished_at => ${options.finishedAt},
      p_outcome => ${end.outcome},
      p_result => ${end.outcome === "succeeded" ? db.sql.json(end.result) : null},
      p_error_code => ${end.outcome === "failed" ? end.errorCode : null})`;
}
