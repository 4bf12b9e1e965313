import { systemClock } from "../../../shared/clock.ts";
import { getDatabase } from "../../../shared/db.ts";
import {
  corsEnv,
  databaseEnv,
  livekitRequiredEnv,
  parseConfig,
  storageEnv,
} from "../../../shared/env.ts";
import { createWebhookHandler } from "./handler.ts";

const config = parseConfig({
  database: databaseEnv,
  cors: corsEnv,
  livekit: livekitRequiredEnv,
  storage: storageEnv,
});

const fetch = createWebhookHandler({
  db: getDatabase(config.database.url, { max: config.database.poolSize }),
  livekit: config.livekit,
  recording: config.storage && {
    bucket: config.storage.bucket,
    credentialsJson: JSON.stringify(config.storage.credentials),
  },
  cors: config.cors,
  clock: systemClock,
});

export default { fetch } satisfies Deno.ServeDefaultExport;
