import { createTokenVerifier } from "../../../shared/auth.ts";
import { systemClock } from "../../../shared/clock.ts";
import { reportErrorsTo } from "../../../shared/sentry.ts";
import { databaseOf } from "../../../shared/db.ts";
import {
  authEnv,
  corsEnv,
  databaseEnv,
  functionsEnv,
  observabilityEnv,
  parseConfig,
} from "../../../shared/env.ts";
import { createDrainRequester } from "../../../shared/outbox_drain.ts";
import { createGuardiansHandler } from "./handler.ts";

const config = parseConfig({
  observability: observabilityEnv,
  database: databaseEnv,
  auth: authEnv,
  cors: corsEnv,
  functions: functionsEnv,
});
reportErrorsTo(config.observability);

const fetch = createGuardiansHandler({
  db: databaseOf(config.database),
  verifier: createTokenVerifier(config.auth),
  drain: createDrainRequester({ ...config.functions, ...config.auth }),
  cors: config.cors,
  clock: systemClock,
});

export default { fetch } satisfies Deno.ServeDefaultExport;
