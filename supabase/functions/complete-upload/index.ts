import { createTokenVerifier } from "../../../shared/kernel/auth.ts";
import { systemClock } from "../../../shared/kernel/clock.ts";
import { reportErrorsTo } from "../../../shared/kernel/sentry.ts";
import { databaseOf } from "../../../shared/kernel/db.ts";
import {
  authEnv,
  corsEnv,
  databaseEnv,
  functionsEnv,
  observabilityEnv,
  parseConfig,
  storageEnv,
} from "../../../shared/kernel/env.ts";
import { createDrainRequester } from "../../../shared/outbox_drain.ts";
import { getObjectStorage } from "../../../shared/storage.ts";
import { createCompleteUploadHandler } from "./handler.ts";

const config = parseConfig({
  observability: observabilityEnv,
  database: databaseEnv,
  auth: authEnv,
  cors: corsEnv,
  storage: storageEnv,
  functions: functionsEnv,
});
reportErrorsTo(config.observability);

const fetch = createCompleteUploadHandler({
  db: databaseOf(config.database),
  verifier: createTokenVerifier(config.auth),
  storage: config.storage && getObjectStorage(config.storage),
  drain: createDrainRequester({ ...config.functions, ...config.auth }),
  cors: config.cors,
  clock: systemClock,
});

export default { fetch } satisfies Deno.ServeDefaultExport;
