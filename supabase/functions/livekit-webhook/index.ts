import { systemClock } from "../../../shared/kernel/clock.ts";
import { reportErrorsTo } from "../../../shared/kernel/sentry.ts";
import { recordingTargetOf } from "../../../shared/livekit.ts";
import { databaseOf } from "../../../shared/kernel/db.ts";
import {
  authEnv,
  corsEnv,
  databaseEnv,
  egressEnv,
  functionsEnv,
  livekitRequiredEnv,
  livekitWebhookPreviousEnv,
  observabilityEnv,
  parseConfig,
  storageEnv,
} from "../../../shared/kernel/env.ts";
import { createDrainRequester } from "../../../shared/outbox_drain.ts";
import { createWebhookHandler } from "./handler.ts";

const config = parseConfig({
  observability: observabilityEnv,
  database: databaseEnv,
  cors: corsEnv,
  livekit: livekitRequiredEnv,
  previousWebhookKey: livekitWebhookPreviousEnv,
  storage: storageEnv,
  egress: egressEnv,
  auth: authEnv,
  functions: functionsEnv,
});
reportErrorsTo(config.observability);

const fetch = createWebhookHandler({
  db: databaseOf(config.database),
  livekit: config.livekit,
  previousWebhookKey: config.previousWebhookKey,
  recording: recordingTargetOf(config.storage, config.egress),
  drain: createDrainRequester({ ...config.functions, ...config.auth }),
  cors: config.cors,
  clock: systemClock,
});

export default { fetch } satisfies Deno.ServeDefaultExport;
