/**
 * The operations `deno task bench` measures, each against the same baseline (one `select 1`
 * through the functions' pool behind the same kind of HTTP server). Add an operation here:
 * it is measured the same way, with the same concurrency and duration.
 */

import type postgres from "postgres";
import type { LiveKitProcess } from "./livekit_double_process.ts";
import { RECORDING_SCENARIOS, recordingScenarios } from "./bench_recordings.ts";
import { sessionScenarios } from "./bench_sessions.ts";
import { webhookScenarios } from "./bench_webhook.ts";

/** What a scenario may use to build its requests. */
export interface BenchContext {
  /** Base URL of the local stack, such as `http://127.0.0.1:40123`. */
  url: string;
  /** Access token of the seeded streamer A (the bench seeds its database). */
  streamerToken?: string;
  /** A client of the bench database, for setting up what scenarios need. */
  sql: postgres.Sql;
  /** `SUPABASE_JWT_SECRET` of the stack, to mint access tokens. */
  jwtSecret: string;
  /** The LiveKit API double the stack talks to. */
  livekit: LiveKitProcess;
}

/** Which scenarios are wanted, so that setup is skipped for the others. */
export interface ScenarioFilter {
  only?: string;
}

/** One measured operation. */
export interface BenchScenario {
  /** Short name shown in the results, such as `health`. */
  name: string;
  /** Builds a new request each time; called once per request sent. */
  request: () => Request | Promise<Request>;
  /** Statuses that count as success. @default any status below 400 */
  expectStatus?: number[];
  /** Runs after the measurement; its result is printed and reported (e.g. "nothing lost"). */
  check?: () => Promise<Record<string, unknown>>;
}

/** The scenarios, in the order they run. */
export async function benchScenarios(
  context: BenchContext,
  filter: ScenarioFilter = {},
): Promise<BenchScenario[]> {
  const wanted = (names: string[]) => !filter.only || names.includes(filter.only);
  return [
    {
      name: "health",
      request: () => new Request(`${context.url}/functions/v1/health`),
      expectStatus: [200],
    },
    ...(wanted(SESSION_SCENARIOS) ? await sessionScenarios(context) : []),
    ...(wanted(["livekit-webhook"]) ? await webhookScenarios(context) : []),
    ...(wanted(RECORDING_SCENARIOS) ? await recordingScenarios(context) : []),
  ];
}

const SESSION_SCENARIOS = ["streams", "livekit-token", "end-session", "start-session"];
