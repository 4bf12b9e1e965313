/**
 * Alert rules over the operator's view: each names a figure of `private.ops_overview`, its
 * threshold and how urgent it is. docs/slos.md lists the same rules for monitoring that reads
 * the figures itself; this table is the one place they are decided.
 */

/** `page`: act now (a promise to families is being broken); `ticket`: look today. */
export type Severity = "page" | "ticket";

/** An alert that fired, by its code (stable, for monitoring to match on). */
export interface Alert {
  code: AlertCode;
  severity: Severity;
  /** The figure that crossed its threshold, as read. */
  value: number | string | null;
  threshold: number | string;
}

/** The figures the rules read (a subset of the view, as `private.ops_overview` returns it). */
export interface OverviewFigures {
  outbox: {
    stuck: number;
    oldestPendingSeconds: number | null;
    failedLastDay: number;
    streamStarted: { emailsLastDay: number; over60sLastDay: number };
  };
  webhooks: { receivedLastHour: number; failedLastHour: number };
  sessions: { startingOverdue: number };
  recordings: Record<"pending" | "recording" | "processing" | "uploading", { stuck: number }> & {
    failedLastDay: number;
    ready: { egressLastDay: number; over10mLastDay: number };
  };
  reconcile: {
    lastRun: { outcome: "succeeded" | "failed"; errorCode: string | null } | null;
    secondsSinceLastSuccess: number | null;
  };
}

/** Thresholds, in the units of the figures they apply to. */
export const THRESHOLDS = {
  /** Emails due and untaken by any drain for 5 minutes (the drain runs every minute). */
  outboxStuck: 0,
  /** The oldest unsent email: a SendGrid outage or suspension shows here first. */
  outboxOldestPendingSeconds: 15 * 60,
  /** Emails that failed for good (16 attempts over 4.5 hours or more, or a permanent refusal). */
  outboxFailedLastDay: 0,
  /** Share of stream-started emails later than 60 s over the last day (SLO: 99% within). */
  streamStartedLateRatio: 0.01,
  /** Webhook events that failed on our side in the last hour and were not retried to success. */
  webhooksFailedLastHour: 0,
  /** Share of them that pages: LiveKit gives up retrying after a few minutes. */
  webhooksFailedRatioPage: 0.05,
  /** Sessions still starting 20 minutes after creation: reconcile is not abandoning them. */
  sessionsStartingOverdue: 0,
  /** Recordings stuck past their promise (see private.ops_overview). */
  recordingsStuck: 0,
  /** Share of egress recordings ready later than 10 minutes after the end (SLO: 99% within). */
  recordingReadyLateRatio: 0.01,
  /** Three missed runs of the 5-minute schedule. */
  reconcileSecondsSinceSuccess: 15 * 60,
} as const;

/** Stable alert codes. */
export type AlertCode =
  | "outbox_stuck"
  | "outbox_oldest_pending"
  | "outbox_failed"
  | "stream_started_email_late"
  | "webhooks_failing"
  | "sessions_starting_overdue"
  | "recordings_stuck"
  | "recording_ready_late"
  | "reconcile_stale"
  | "reconcile_failed";

function ratio(part: number, whole: number): number {
  return whole === 0 ? 0 : part / whole;
}

/** The alerts the figures raise, most urgent first. */
export function evaluateAlerts(figures: OverviewFigures): Alert[] {
  const alerts: Alert[] = [];
  const raise = (
    code: AlertCode,
    severity: Severity,
    value: Alert["value"],
    threshold: Alert["threshold"],
  ) => alerts.push({ code, severity, value, threshold });
  const { outbox, webhooks, sessions, recordings, reconcile } = figures;

  if (outbox.stuck > THRESHOLDS.outboxStuck) {
    raise("outbox_stuck", "page", outbox.stuck, THRESHOLDS.outboxStuck);
  }
  if ((outbox.oldestPendingSeconds ?? 0) > THRESHOLDS.outboxOldestPendingSeconds) {
    raise(
      "outbox_oldest_pending",
      "page",
      outbox.oldestPendingSeconds,
      THRESHOLDS.outboxOldestPendingSeconds,
    );
  }
  if (outbox.failedLastDay > THRESHOLDS.outboxFailedLastDay) {
    raise("outbox_failed", "ticket", outbox.failedLastDay, THRESHOLDS.outboxFailedLastDay);
  }
  const lateEmails = ratio(
    outbox.streamStarted.over60sLastDay,
    outbox.streamStarted.emailsLastDay,
  );
  if (lateEmails > THRESHOLDS.streamStartedLateRatio) {
    raise("stream_started_email_late", "ticket", lateEmails, THRESHOLDS.streamStartedLateRatio);
  }
  if (webhooks.failedLastHour > THRESHOLDS.webhooksFailedLastHour) {
    const share = ratio(webhooks.failedLastHour, webhooks.receivedLastHour);
    raise(
      "webhooks_failing",
      share > THRESHOLDS.webhooksFailedRatioPage ? "page" : "ticket",
      webhooks.failedLastHour,
      THRESHOLDS.webhooksFailedLastHour,
    );
  }
  if (sessions.startingOverdue > THRESHOLDS.sessionsStartingOverdue) {
    raise(
      "sessions_starting_overdue",
      "ticket",
      sessions.startingOverdue,
      THRESHOLDS.sessionsStartingOverdue,
    );
  }
  const stuck = recordings.pending.stuck + recordings.recording.stuck +
    recordings.processing.stuck + recordings.uploading.stuck;
  if (stuck > THRESHOLDS.recordingsStuck) {
    raise("recordings_stuck", "ticket", stuck, THRESHOLDS.recordingsStuck);
  }
  const lateRecordings = ratio(recordings.ready.over10mLastDay, recordings.ready.egressLastDay);
  if (lateRecordings > THRESHOLDS.recordingReadyLateRatio) {
    raise("recording_ready_late", "ticket", lateRecordings, THRESHOLDS.recordingReadyLateRatio);
  }
  const sinceSuccess = reconcile.secondsSinceLastSuccess;
  if (sinceSuccess === null || sinceSuccess > THRESHOLDS.reconcileSecondsSinceSuccess) {
    raise("reconcile_stale", "page", sinceSuccess, THRESHOLDS.reconcileSecondsSinceSuccess);
  }
  if (reconcile.lastRun?.outcome === "failed") {
    raise("reconcile_failed", "ticket", reconcile.lastRun.errorCode, "succeeded");
  }
  return alerts.sort((a, b) => (a.severity === b.severity ? 0 : a.severity === "page" ? -1 : 1));
}
