import assert from "node:assert/strict";
import { HttpError } from "../../shared/kernel/errors.ts";
import { createFunction, json } from "../../shared/kernel/http.ts";
import {
  createSentryReporter,
  currentErrorReporter,
  reportErrorsTo,
} from "../../shared/kernel/sentry.ts";
import { startSentryDouble } from "../support/sentry_double.ts";

const URL_ = "http://127.0.0.1/functions/v1/demo";

Deno.test({
  name: "unexpected errors reach Sentry with the function and request id, redacted",
  // The SDK keeps its transport's timers for a moment after flush.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const sentry = startSentryDouble();
    try {
      const handle = createFunction({
        name: "demo",
        cors: { allowedOrigins: [] },
        logSink() {},
        reportError: createSentryReporter({
          sentryDsn: sentry.dsn,
          environment: "test",
          release: "9.9.9",
        }),
      }, {
        GET(request) {
          const kind = new URL(request.url).searchParams.get("kind");
          if (kind === "missing") throw new HttpError(404, "not_found", "Nothing here.");
          if (kind === "boom") throw new Error("cannot mail parent@example.test: relay refused");
          return Promise.resolve(json({ ok: true }));
        },
      });
      const missing = await handle(new Request(`${URL_}?kind=missing`));
      assert.equal(missing.status, 404);
      const boom = await handle(
        new Request(`${URL_}?kind=boom`, { headers: { "x-request-id": "req-sentry-0001" } }),
      );
      assert.equal(boom.status, 500);
      assert.doesNotMatch(await boom.text(), /relay|parent/);

      const [event] = await sentry.waitFor(1);
      assert.equal(event.tags.request_id, "req-sentry-0001");
      assert.equal(event.tags.function, "demo");
      assert.equal(event.environment, "test");
      assert.equal(event.release, "9.9.9");
      const [exception] = event.exception.values;
      assert.equal(exception.type, "Error");
      assert.equal(exception.value, "cannot mail p***@example.test: relay refused");
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(sentry.events.length, 1, "a 4xx must not be reported");
      assert.equal(sentry.refused, 0);
    } finally {
      await sentry.close();
    }
  },
});

Deno.test("without SENTRY_DSN no reporter is installed", () => {
  reportErrorsTo({ environment: "production", release: "dev" });
  assert.equal(currentErrorReporter(), undefined);
  reportErrorsTo({
    sentryDsn: "http://key@127.0.0.1:9/1",
    environment: "production",
    release: "dev",
  });
  assert.equal(typeof currentErrorReporter(), "function");
  reportErrorsTo({ environment: "production", release: "dev" });
});
