/**
 * Unexpected errors (the generic 500s) go to Sentry when `SENTRY_DSN` is set, each event
 * tagged with the function and the request id, as the contract asks. The SDK is loaded on the
 * first error only, with its default integrations off: the edge runtime reuses isolates across
 * requests, so all context is passed per event (`withScope`), never left on a global scope.
 * Messages are redacted like log lines before they leave.
 */
import { runInBackground } from "./background.ts";
import type { RequestContext } from "./http.ts";
import { redactText } from "./log.ts";

/** Receives every unexpected error with its request. */
export type ErrorReporter = (error: unknown, context: RequestContext) => void;

/** Settings of {@linkcode reportErrorsTo}, as `observabilityEnv` parses them. */
export interface SentrySettings {
  sentryDsn?: string;
  environment: string;
  release: string;
}

type SentryModule = typeof import("@sentry/deno");

let reporter: ErrorReporter | undefined;

/** The reporter of this isolate, set by its `index.ts`; undefined without a DSN. */
export function currentErrorReporter(): ErrorReporter | undefined {
  return reporter;
}

/**
 * Sends this isolate's unexpected errors to Sentry (no-op without a DSN). Called once by each
 * function's `index.ts` at boot.
 */
export function reportErrorsTo(settings: SentrySettings): void {
  reporter = settings.sentryDsn ? createSentryReporter(settings) : undefined;
}

/** A reporter for one DSN; the SDK loads with the first error. */
export function createSentryReporter(settings: SentrySettings): ErrorReporter {
  let sentry: Promise<SentryModule> | undefined;
  function load(): Promise<SentryModule> {
    sentry ??= import("@sentry/deno").then((module) => {
      module.init({
        dsn: settings.sentryDsn,
        environment: settings.environment,
        release: settings.release,
        defaultIntegrations: false,
        sendDefaultPii: false,
        beforeSend(event) {
          for (const value of event.exception?.values ?? []) {
            if (value.value) value.value = redactText(value.value);
          }
          if (event.message) event.message = redactText(event.message);
          return event;
        },
      });
      return module;
    });
    return sentry;
  }

  return function report(error, context) {
    runInBackground(
      async () => {
        const module = await load();
        module.withScope((scope) => {
          scope.setTag("request_id", context.requestId);
          scope.setTag("function", context.functionName);
          module.captureException(error);
        });
        await module.flush(2000);
      },
      context.log,
      "could not report the error to Sentry",
    );
  };
}
