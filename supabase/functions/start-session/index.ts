import { createTokenVerifier } from "../../../shared/kernel/auth.ts";
import { systemClock } from "../../../shared/kernel/clock.ts";
import { reportErrorsTo } from "../../../shared/kernel/sentry.ts";
import { recordingTargetOf } from "../../../shared/livekit.ts";
import { databaseOf } from "../../../shared/kernel/db.ts";
import {
  authEnv,
  corsEnv,
  databaseEnv,
  egressEnv,
  livekitRequiredEnv,
  observabilityEnv,
  parseConfig,
  storageEnv,
} from "../../../shared/kernel/env.ts";
import { createStartSessionHandler } from "./handler.ts";

const config = parseConfig({
  observability: observabilityEnv,
  database: databaseEnv,
  auth: authEnv,
  cors: corsEnv,
  livekit: livekitRequiredEnv,
  storage: storageEnv,
  egress: egressEnv,
});
reportErrorsTo(config.observability);

const fetch = createStartSessionHandler({
  db: databaseOf(config.database),
  verifier: createTokenVerifier(config.auth),
  livekit: config.livekit,
  recording: recordingTargetOf(config.storage, config.egress),
  cors: config.cors,
  clock: systemClock,
});

export default { fetch } satisfies Deno.ServeDefaultExport;
