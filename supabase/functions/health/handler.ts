/** `GET health`: database reachability, configured features, and their reachability. */
import type { Database } from "../../../shared/kernel/db.ts";
import { createFunction, type HandlerOptions, json } from "../../../shared/kernel/http.ts";
import { cached, type Check, httpProbe, timed } from "./checks.ts";

/** What `health` reports as configured (never any value of a setting). */
export interface Features {
  livekit: boolean;
  storage: boolean;
  email: boolean;
  sentry: boolean;
}

/** Options of {@linkcode createHealthHandler}. */
export interface HealthOptions extends HandlerOptions {
  db: Database;
  version: string;
  features: Features;
  /** Probe URLs of the configured external dependencies, by feature name. */
  probes: Partial<Record<"livekit" | "storage" | "email", string>>;
  /** Per-check timeout in milliseconds. @default {2000} */
  timeoutMs?: number;
}

/** Builds the `health` function. */
export function createHealthHandler(
  options: HealthOptions,
): (request: Request) => Promise<Response> {
  const timeoutMs = options.timeoutMs ?? 2000;
  const checks: Record<string, Check> = {
    database: () => timed(() => options.db.ping(), timeoutMs),
  };
  for (const [name, url] of Object.entries(options.probes)) {
    if (url) checks[name] = cached(httpProbe(url, timeoutMs), 15, options.clock);
  }

  return createFunction({ ...options, name: "health" }, {
    async GET() {
      const names = Object.keys(checks);
      const results = await Promise.all(names.map((name) => checks[name]()));
      const report = Object.fromEntries(names.map((name, i) => [name, results[i]]));
      const healthy = results.every((result) => result.status === "ok");
      return json(
        {
          status: healthy ? "ok" : "degraded",
          version: options.version,
          checks: report,
          features: options.features,
        },
        200,
        { "cache-control": "no-store" },
      );
    },
  });
}
