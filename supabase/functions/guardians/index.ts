import { createTokenVerifier } from "../../../shared/kernel/auth.ts";
import { systemClock } from "../../../shared/kernel/clock.ts";
import { reportErrorsTo } from "../../../shared/kernel/sentry.ts";
import { databaseOf } from "../../../shared/kernel/db.ts";
import {
  authEnv,
  corsEnv,
  databaseEnv,
  functionsEnv,
  livekitEnv,
  observabilityEnv,
  parseConfig,
} from "../../../shared/kernel/env.ts";
import { createDrainRequester } from "../../../shared/outbox_drain.ts";
import { createGuardiansHandler } from "./handler.ts";

const config = parseConfig({
  observability: observabilityEnv,
  database: databaseEnv,
  auth: authEnv,
  cors: corsEnv,
  functions: functionsEnv,
  livekit: livekitEnv,
});
reportErrorsTo(config.observability);

const livekit = config.livekit;

const fetch = createGuardiansHandler({
  db: databaseOf(config.database),
  verifier: createTokenVerifier(config.auth),
  drain: createDrainRequester({ ...config.functions, ...config.auth }),
  // Revoked guardians leave live rooms at once; without LiveKit nothing is live. The LiveKit SDK
  // is loaded on the first revocation, not at every cold start.
  removeParticipant: livekit &&
    (async (target) =>
      (await import("../../../shared/livekit.ts")).removeParticipant(
        livekit,
        target,
      )),
  cors: config.cors,
  clock: systemClock,
});

export default { fetch } satisfies Deno.ServeDefaultExport;
