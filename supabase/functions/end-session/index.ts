import { createTokenVerifier } from "../../../shared/kernel/auth.ts";
import { systemClock } from "../../../shared/kernel/clock.ts";
import { reportErrorsTo } from "../../../shared/kernel/sentry.ts";
import { databaseOf } from "../../../shared/kernel/db.ts";
import {
  authEnv,
  corsEnv,
  databaseEnv,
  livekitRequiredEnv,
  observabilityEnv,
  parseConfig,
} from "../../../shared/kernel/env.ts";
import { createEndSessionHandler } from "./handler.ts";

const config = parseConfig({
  observability: observabilityEnv,
  database: databaseEnv,
  auth: authEnv,
  cors: corsEnv,
  livekit: livekitRequiredEnv,
});
reportErrorsTo(config.observability);

const fetch = createEndSessionHandler({
  db: databaseOf(config.database),
  verifier: createTokenVerifier(config.auth),
  livekit: config.livekit,
  cors: config.cors,
  clock: systemClock,
});

export default { fetch } satisfies Deno.ServeDefaultExport;
