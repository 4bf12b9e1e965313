/**
 * The LiveKit API double of `tests/support/` in a process of its own, for the bench: LiveKit
 * runs on other machines in production, so its work should not be measured on the
 * functions' JavaScript thread. See {@linkcode startLiveKitProcess}.
 */
import { startLiveKitDouble } from "../tests/support/livekit_double.ts";
import { reportAndWait, startReportingChild } from "./child_process.ts";

/** A LiveKit double running in a child process. */
export interface LiveKitProcess {
  apiKey: string;
  apiSecret: string;
  /** `LIVEKIT_URL`, `LIVEKIT_API_KEY` and `LIVEKIT_API_SECRET` for the functions. */
  env: Record<string, string>;
  close(): Promise<void>;
}

/** Starts this file as a child process and waits until its double listens. */
export async function startLiveKitProcess(): Promise<LiveKitProcess> {
  const child = await startReportingChild<{ url: string; apiKey: string; apiSecret: string }>(
    "The LiveKit double",
    ["--allow-net", "--allow-env", "--allow-read", import.meta.filename!],
  );
  const { url, apiKey, apiSecret } = child.report;
  return {
    apiKey,
    apiSecret,
    env: { LIVEKIT_URL: url, LIVEKIT_API_KEY: apiKey, LIVEKIT_API_SECRET: apiSecret },
    close: child.close,
  };
}

if (import.meta.main) {
  const double = startLiveKitDouble();
  // The calls it records are of no use here, and would grow for the whole run.
  setInterval(() => double.calls.splice(0), 1000);
  await reportAndWait({ url: double.url, apiKey: double.apiKey, apiSecret: double.apiSecret });
  await double.close();
  Deno.exit(0);
}
