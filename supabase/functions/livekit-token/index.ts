import { createTokenVerifier } from "../../../shared/kernel/auth.ts";
import { systemClock } from "../../../shared/kernel/clock.ts";
import { reportErrorsTo } from "../../../shared/kernel/sentry.ts";
import { databaseOf } from "../../../shared/kernel/db.ts";
import {
  authEnv,
  corsEnv,
  databaseEnv,
  linkEnv,
  livekitRequiredEnv,
  observabilityEnv,
  parseConfig,
} from "../../../shared/kernel/env.ts";
import { createLinkSigner } from "../../../shared/kernel/link.ts";
import { createLiveKitTokenHandler } from "./handler.ts";

const config = parseConfig({
  observability: observabilityEnv,
  database: databaseEnv,
  auth: authEnv,
  cors: corsEnv,
  link: linkEnv,
  livekit: livekitRequiredEnv,
});
reportErrorsTo(config.observability);

const fetch = createLiveKitTokenHandler({
  db: databaseOf(config.database),
  verifier: createTokenVerifier(config.auth),
  links: createLinkSigner(config.link, systemClock),
  livekit: config.livekit,
  cors: config.cors,
  clock: systemClock,
});

export default { fetch } satisfies Deno.ServeDefaultExport;
