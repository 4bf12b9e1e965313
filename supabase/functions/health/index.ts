import { systemClock } from "../../../shared/kernel/clock.ts";
import { reportErrorsTo } from "../../../shared/kernel/sentry.ts";
import { databaseOf } from "../../../shared/kernel/db.ts";
import {
  corsEnv,
  databaseEnv,
  emailEnv,
  livekitEnv,
  observabilityEnv,
  parseConfig,
  storageEnv,
} from "../../../shared/kernel/env.ts";
import { createHealthHandler } from "./handler.ts";

const config = parseConfig({
  database: databaseEnv,
  cors: corsEnv,
  livekit: livekitEnv,
  storage: storageEnv,
  email: emailEnv,
  observability: observabilityEnv,
});
reportErrorsTo(config.observability);

const fetch = createHealthHandler({
  db: databaseOf(config.database),
  cors: config.cors,
  version: config.observability.release,
  features: {
    livekit: config.livekit !== undefined,
    storage: config.storage !== undefined,
    email: config.email.sendgridApiKey !== undefined,
    sentry: config.observability.sentryDsn !== undefined,
  },
  probes: {
    livekit: config.livekit?.httpUrl,
    storage: config.storage &&
      `${config.storage.apiEndpoint}/storage/v1/b/${config.storage.bucket}`,
    email: config.email.sendgridApiKey && `${config.email.sendgridApiUrl}/v3/scopes`,
  },
  clock: systemClock,
});

export default { fetch } satisfies Deno.ServeDefaultExport;
