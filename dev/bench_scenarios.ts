/**
 * The operations `deno task bench` measures, each against the same baseline (one `select 1`
 * through the functions' pool behind the same kind of HTTP server). Add an operation here:
 * it is measured the same way, with the same concurrency and duration.
 */

/** What a scenario may use to build its requests. */
export interface BenchContext {
  /** Base URL of the local stack, such as `http://127.0.0.1:40123`. */
  url: string;
  /** Access token of the seeded streamer A (the bench seeds its database). */
  streamerToken?: string;
}

/** One measured operation. */
export interface BenchScenario {
  /** Short name shown in the results, such as `health`. */
  name: string;
  /** Builds a new request each time; called once per request sent. */
  request: () => Request | Promise<Request>;
  /** Statuses that count as success. @default any status below 400 */
  expectStatus?: number[];
}

/** The scenarios, in the order they run. */
export function benchScenarios(context: BenchContext): BenchScenario[] {
  return [
    {
      name: "health",
      request: () => new Request(`${context.url}/functions/v1/health`),
      expectStatus: [200],
    },
  ];
}
