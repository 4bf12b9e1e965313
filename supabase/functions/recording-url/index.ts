import { createTokenVerifier } from "../../../shared/kernel/auth.ts";
import { systemClock } from "../../../shared/kernel/clock.ts";
import { reportErrorsTo } from "../../../shared/kernel/sentry.ts";
import { databaseOf } from "../../../shared/kernel/db.ts";
import {
  authEnv,
  corsEnv,
  databaseEnv,
  linkEnv,
  observabilityEnv,
  parseConfig,
  storageEnv,
} from "../../../shared/kernel/env.ts";
import { createLinkSigner } from "../../../shared/kernel/link.ts";
import { getObjectStorage } from "../../../shared/storage.ts";
import { createRecordingUrlHandler } from "./handler.ts";

const config = parseConfig({
  observability: observabilityEnv,
  database: databaseEnv,
  auth: authEnv,
  cors: corsEnv,
  link: linkEnv,
  storage: storageEnv,
});
reportErrorsTo(config.observability);

const fetch = createRecordingUrlHandler({
  db: databaseOf(config.database),
  verifier: createTokenVerifier(config.auth),
  links: createLinkSigner(config.link, systemClock),
  storage: config.storage && getObjectStorage(config.storage),
  cors: config.cors,
  clock: systemClock,
});

export default { fetch } satisfies Deno.ServeDefaultExport;
