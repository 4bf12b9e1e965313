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
import { createReconcileHandler } from "./handler.ts";

const config = parseConfig({
  database: databaseEnv,
  auth: authEnv,
  cors: corsEnv,
  livekit: livekitRequiredEnv,
  storage: storageEnv,
});

const fetch = createReconcileHandler({
  db: getDatabase(config.database.url, { max: config.database.poolSize }),
  verifier: createTokenVerifier(config.auth),
  livekit: config.livekit,
  bucket: config.storage?.bucket,
  cors: config.cors,
  clock: systemClock,
});

export default { fetch } satisfies Deno.ServeDefaultExport;
