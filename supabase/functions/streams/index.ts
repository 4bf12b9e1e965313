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
} from "../../../shared/kernel/env.ts";
import { createLinkSigner } from "../../../shared/kernel/link.ts";
import { createStreamsHandler } from "./handler.ts";

const config = parseConfig({
  observability: observabilityEnv,
  database: databaseEnv,
  auth: authEnv,
  cors: corsEnv,
  link: linkEnv,
});
reportErrorsTo(config.observability);

const fetch = createStreamsHandler({
  db: databaseOf(config.database),
  verifier: createTokenVerifier(config.auth),
  links: createLinkSigner(config.link, systemClock),
  cors: config.cors,
  clock: systemClock,
});

export default { fetch } satisfies Deno.ServeDefaultExport;
