/**
 * `send-notification` in a process of its own, with a SendGrid double of its own, for the
 * bench: in production it runs in its own isolates, so the emails that the measured functions
 * ask it to drain should not be sent on their JavaScript thread. It shares the bench's
 * database; the functions under measurement reach it through `FUNCTIONS_URL`. See
 * {@linkcode startNotificationsProcess}.
 */
import { startSendGridDouble } from "../tests/support/sendgrid_double.ts";
import { BENCH_SENDGRID_RATE_LIMIT } from "./bench_support.ts";
import { reportAndWait, startReportingChild } from "./child_process.ts";
import { startStack } from "./stack.ts";

/** The functions server of the child process. */
export interface NotificationsProcess {
  /** `FUNCTIONS_URL` for the functions whose drain requests it should serve. */
  env: { FUNCTIONS_URL: string };
  close(): Promise<void>;
}

/**
 * Starts this file as a child process on the database and settings of `env` (those of the
 * measured stack: database, secrets, LiveKit and GCS) and waits until it serves.
 */
export async function startNotificationsProcess(
  env: Record<string, string>,
): Promise<NotificationsProcess> {
  const child = await startReportingChild<{ url: string }>(
    "The send-notification process",
    ["-A", import.meta.filename!],
    { ...env, DATABASE_POOL_SIZE: "4" },
  );
  return {
    env: { FUNCTIONS_URL: `${child.report.url}/functions/v1` },
    close: child.close,
  };
}

if (import.meta.main) {
  // The bench measures the drain, not SendGrid's rate limits (the double's default is 600 a
  // minute, which one run's emails exceed).
  const sendgrid = startSendGridDouble({ rateLimit: BENCH_SENDGRID_RATE_LIMIT });
  // What it accepted is of no use here, and would grow for the whole run.
  setInterval(() => sendgrid.messages.splice(0), 1000);
  const stack = await startStack({
    port: 0,
    envFile: false,
    persistSecrets: false,
    seed: false,
    env: sendgrid.env,
    log: () => {},
  });
  await reportAndWait({ url: stack.url });
  await stack.stop();
  await sendgrid.close();
  Deno.exit(0);
}
