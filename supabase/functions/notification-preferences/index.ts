import { systemClock } from "../../../shared/kernel/clock.ts";
import { reportErrorsTo } from "../../../shared/kernel/sentry.ts";
import { databaseOf } from "../../../shared/kernel/db.ts";
import {
  corsEnv,
  databaseEnv,
  linkEnv,
  observabilityEnv,
  parseConfig,
} from "../../../shared/kernel/env.ts";
import { createLinkSigner } from "../../../shared/kernel/link.ts";
import { createNotificationPreferencesHandler } from "./handler.ts";

const config = parseConfig({
  observability: observabilityEnv,
  database: databaseEnv,
  cors: corsEnv,
  link: linkEnv,
});
reportErrorsTo(config.observability);

const fetch = createNotificationPreferencesHandler({
  db: databaseOf(config.database),
  links: createLinkSigner(config.link, systemClock),
  cors: config.cors,
  clock: systemClock,
});

export default { fetch } satisfies Deno.ServeDefaultExport;
