import { createTokenVerifier } from "../../../shared/auth.ts";
import { systemClock } from "../../../shared/clock.ts";
import { getDatabase } from "../../../shared/db.ts";
import {
  authEnv,
  corsEnv,
  databaseEnv,
  livekitRequiredEnv,
  parseConfig,
  storageEnv,
} from "../../../shared/env.ts";
import { createStartSessionHandler } from "./handler.ts";

const config = parseConfig({
  database: databaseEnv,
  auth: authEnv,
  cors: corsEnv,
  livekit: livekitRequiredEnv,
  storage: storageEnv,
});

const fetch = createStartSessionHandler({
  db: getDatabase(config.database.url, { max: config.database.poolSize }),
  verifier: createTokenVerifier(config.auth),
  livekit: config.livekit,
  recording: config.storage && {
    bucket: config.storage.bucket,
    credentialsJson: JSON.stringify(config.storage.credentials),
  },
  cors: config.cors,
  clock: systemClock,
});

export default { fetch } satisfies Deno.ServeDefaultExport;
