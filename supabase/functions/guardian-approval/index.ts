import { systemClock } from "../../../shared/kernel/clock.ts";
import { reportErrorsTo } from "../../../shared/kernel/sentry.ts";
import { databaseOf } from "../../../shared/kernel/db.ts";
import {
  authEnv,
  corsEnv,
  databaseEnv,
  functionsEnv,
  linkEnv,
  observabilityEnv,
  parseConfig,
} from "../../../shared/kernel/env.ts";
import { createLinkSigner } from "../../../shared/kernel/link.ts";
import { createDrainRequester } from "../../../shared/outbox_drain.ts";
import { createGuardianApprovalHandler } from "./handler.ts";

const config = parseConfig({
  observability: observabilityEnv,
  database: databaseEnv,
  auth: authEnv,
  cors: corsEnv,
  link: linkEnv,
  functions: functionsEnv,
});
reportErrorsTo(config.observability);

const fetch = createGuardianApprovalHandler({
  db: databaseOf(config.database),
  links: createLinkSigner(config.link, systemClock),
  // The drain needs a service credential (the key, or a token signed with the JWT secret).
  drain: createDrainRequester({ ...config.functions, ...config.auth }),
  cors: config.cors,
  clock: systemClock,
});

export default { fetch } satisfies Deno.ServeDefaultExport;
