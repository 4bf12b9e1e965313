import { createTokenVerifier } from "../../../shared/auth.ts";
import { systemClock } from "../../../shared/clock.ts";
import { recordingTargetOf } from "../../../shared/livekit.ts";
import { databaseOf } from "../../../shared/db.ts";
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
  db: databaseOf(config.database),
  verifier: createTokenVerifier(config.auth),
  livekit: config.livekit,
  recording: recordingTargetOf(config.storage),
  cors: config.cors,
  clock: systemClock,
});

export default { fetch } satisfies Deno.ServeDefaultExport;
