import { createTokenVerifier } from "../../../shared/auth.ts";
import { systemClock } from "../../../shared/clock.ts";
import { reportErrorsTo } from "../../../shared/sentry.ts";
import { databaseOf } from "../../../shared/db.ts";
import {
  authEnv,
  corsEnv,
  databaseEnv,
  linkEnv,
  observabilityEnv,
  parseConfig,
} from "../../../shared/env.ts";
import { createLinkSigner } from "../../../shared/link.ts";
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
