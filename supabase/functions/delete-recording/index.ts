import { createTokenVerifier } from "../../../shared/kernel/auth.ts";
import { systemClock } from "../../../shared/kernel/clock.ts";
import { reportErrorsTo } from "../../../shared/kernel/sentry.ts";
import { databaseOf } from "../../../shared/kernel/db.ts";
import {
  authEnv,
  corsEnv,
  databaseEnv,
  observabilityEnv,
  parseConfig,
  storageEnv,
} from "../../../shared/kernel/env.ts";
import { getObjectStorage } from "../../../shared/storage.ts";
import { createDeleteRecordingHandler } from "./handler.ts";

const config = parseConfig({
  observability: observabilityEnv,
  database: databaseEnv,
  auth: authEnv,
  cors: corsEnv,
  storage: storageEnv,
});
reportErrorsTo(config.observability);

const fetch = createDeleteRecordingHandler({
  db: databaseOf(config.database),
  verifier: createTokenVerifier(config.auth),
  storage: config.storage && getObjectStorage(config.storage),
  cors: config.cors,
  clock: systemClock,
});

export default { fetch } satisfies Deno.ServeDefaultExport;
