import { systemClock } from "../../../shared/clock.ts";
import { databaseOf } from "../../../shared/db.ts";
import { corsEnv, databaseEnv, linkEnv, parseConfig } from "../../../shared/env.ts";
import { createLinkSigner } from "../../../shared/link.ts";
import { createGuardianConsentHandler } from "./handler.ts";

const config = parseConfig({ database: databaseEnv, cors: corsEnv, link: linkEnv });

const fetch = createGuardianConsentHandler({
  db: databaseOf(config.database),
  links: createLinkSigner(config.link.linkSecret, systemClock),
  cors: config.cors,
  clock: systemClock,
});

export default { fetch } satisfies Deno.ServeDefaultExport;
