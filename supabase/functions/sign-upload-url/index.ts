import { createTokenVerifier } from "../../../shared/auth.ts";
import { systemClock } from "../../../shared/clock.ts";
import { databaseOf } from "../../../shared/db.ts";
import { authEnv, corsEnv, databaseEnv, parseConfig, storageEnv } from "../../../shared/env.ts";
import { getObjectStorage } from "../../../shared/storage.ts";
import { createSignUploadUrlHandler } from "./handler.ts";

const config = parseConfig({
  database: databaseEnv,
  auth: authEnv,
  cors: corsEnv,
  storage: storageEnv,
});

const fetch = createSignUploadUrlHandler({
  db: databaseOf(config.database),
  verifier: createTokenVerifier(config.auth),
  storage: config.storage && getObjectStorage(config.storage),
  cors: config.cors,
  clock: systemClock,
});

export default { fetch } satisfies Deno.ServeDefaultExport;
