/**
 * `GET ops` (service only): the operator's view. One statement (`private.ops_overview`) reads
 * the outbox, the webhook ledger, sessions, recordings and reconcile's runs and returns one
 * JSON document; the alert rules of alerts.ts are applied to it, so monitoring can page on
 * `status` or on an alert's code. docs/slos.md explains every figure.
 */
import { type TokenVerifier, withService } from "../../../shared/kernel/auth.ts";
import type { Database } from "../../../shared/kernel/db.ts";
import { invalidRequest } from "../../../shared/kernel/errors.ts";
import { createFunction, type HandlerOptions, json } from "../../../shared/kernel/http.ts";
import { evaluateAlerts, type OverviewFigures } from "./alerts.ts";

/** Options of {@linkcode createOpsHandler}. */
export interface OpsOptions extends HandlerOptions {
  db: Database;
  verifier: TokenVerifier;
}

/** Builds the `ops` function. */
export function createOpsHandler(options: OpsOptions) {
  return createFunction({ ...options, name: "ops" }, {
    GET: withService({ verifier: options.verifier }, async (request, context) => {
      const parameters = [...new URL(request.url).searchParams.keys()];
      if (parameters.length > 0) {
        throw invalidRequest(
          parameters.map((name) => ({
            path: name,
            message: "ops takes no parameters.",
          })),
        );
      }
      const [{ overview }] = await options.db.sql<{ overview: OverviewFigures }[]>`
        select private.ops_overview(p_now => ${options.clock.now()}) as overview`;
      const alerts = evaluateAlerts(overview);
      context.annotate({ alerts: alerts.map((alert) => alert.code) });
      return json(
        { status: alerts.length === 0 ? "ok" : "attention", alerts, ...overview },
        200,
        { "cache-control": "no-store" },
      );
    }),
  });
}
