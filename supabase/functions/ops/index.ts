import { createTokenVerifier } from "../../../shared/kernel/auth.ts";
import { systemClock } from "../../../shared/kernel/clock.ts";
import { databaseOf } from "../../../shared/kernel/db.ts";
import {
  authEnv,
  corsEnv,
  databaseEnv,
  observabilityEnv,
  parseConfig,
} from "../../../shared/kernel/env.ts";
import { reportErrorsTo } from "../../../shared/kernel/sentry.ts";
import { createOpsHandler } from "./handler.ts";

const config = parseConfig({
  observability: observabilityEnv,
  database: databaseEnv,
  auth: authEnv,
  cors: corsEnv,
});
reportErrorsTo(config.observability);

const fetch = createOpsHandler({
  db: databaseOf(config.database),
  verifier: createTokenVerifier(config.auth),
  cors: config.cors,
  clock: systemClock,
});

export default { fetch } satisfies Deno.ServeDefaultExport;
