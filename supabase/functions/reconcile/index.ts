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
  recordingRetentionEnv,
  storageEnv,
} from "../../../shared/kernel/env.ts";
import { applyRecordingRetention } from "../../../shared/recording_retention.ts";
import { getObjectStorage } from "../../../shared/storage.ts";
import { createReconcileHandler } from "./handler.ts";

const config = parseConfig({
  observability: observabilityEnv,
  database: databaseEnv,
  auth: authEnv,
  cors: corsEnv,
  livekit: livekitRequiredEnv,
  storage: storageEnv,
  retention: recordingRetentionEnv,
});
reportErrorsTo(config.observability);

const db = databaseOf(config.database);
const storage = config.storage && getObjectStorage(config.storage);

const fetch = createReconcileHandler({
  db,
  verifier: createTokenVerifier(config.auth),
  livekit: config.livekit,
  retention: (now) =>
    applyRecordingRetention({
      db,
      storage,
      now,
      retentionDays: config.retention.retentionDays,
    }),
  bucket: config.storage?.bucket,
  cors: config.cors,
  clock: systemClock,
});

export default { fetch } satisfies Deno.ServeDefaultExport;
