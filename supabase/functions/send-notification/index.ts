import { createTokenVerifier } from "../../../shared/kernel/auth.ts";
import { systemClock } from "../../../shared/kernel/clock.ts";
import { reportErrorsTo } from "../../../shared/kernel/sentry.ts";
import { databaseOf } from "../../../shared/kernel/db.ts";
import {
  authEnv,
  corsEnv,
  databaseEnv,
  emailDeliveryEnv,
  emailEnv,
  functionsEnv,
  linkEnv,
  observabilityEnv,
  parseConfig,
  viewerEnv,
} from "../../../shared/kernel/env.ts";
import { createLinkSigner } from "../../../shared/kernel/link.ts";
import { createSendNotificationHandler } from "./handler.ts";
import { createCaptureMailer, createSendGridMailer } from "./mailer.ts";

const config = parseConfig({
  observability: observabilityEnv,
  database: databaseEnv,
  auth: authEnv,
  cors: corsEnv,
  link: linkEnv,
  email: emailEnv,
  delivery: emailDeliveryEnv,
  viewer: viewerEnv,
  functions: functionsEnv,
});
reportErrorsTo(config.observability);

const db = databaseOf(config.database);

const fetch = createSendNotificationHandler({
  db,
  verifier: createTokenVerifier(config.auth),
  // Without a key nothing is sent: emails are kept in captured_emails (local runs).
  mailer: config.email.sendgridApiKey
    ? createSendGridMailer({
      apiKey: config.email.sendgridApiKey,
      apiUrl: config.email.sendgridApiUrl,
      timeoutMs: config.delivery.timeoutSeconds * 1000,
      clock: systemClock,
    })
    : createCaptureMailer(db),
  links: createLinkSigner(config.link, systemClock),
  email: {
    appName: config.email.appName,
    from: config.email.from ?? "no-reply@localhost",
    viewerUrl: config.viewer.viewerUrl,
    functionsUrl: config.functions.functionsUrl,
  },
  cors: config.cors,
  clock: systemClock,
});

export default { fetch } satisfies Deno.ServeDefaultExport;
