import { createTokenVerifier } from "../../../shared/auth.ts";
import { systemClock } from "../../../shared/clock.ts";
import { databaseOf } from "../../../shared/db.ts";
import {
  authEnv,
  corsEnv,
  databaseEnv,
  livekitRequiredEnv,
  parseConfig,
  recordingRetentionEnv,
  storageEnv,
} from "../../../shared/env.ts";
import { applyRecordingRetention } from "../../../shared/recording_retention.ts";
import { getObjectStorage } from "../../../shared/storage.ts";
import { createReconcileHandler } from "./handler.ts";

const config = parseConfig({
  database: databaseEnv,
  auth: authEnv,
  cors: corsEnv,
  livekit: livekitRequiredEnv,
  storage: storageEnv,
  retention: recordingRetentionEnv,
});

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
