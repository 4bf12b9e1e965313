/**
 * reconcile records every run for the operator's view: a run that succeeds leaves its counts,
 * a run that fails (LiveKit unreachable) leaves the contract's error code and nothing of what
 * LiveKit said; ops then reports the last run and how long ago the last success was.
 */
import assert from "node:assert/strict";
import { createTokenVerifier } from "../../shared/kernel/auth.ts";
import { fixedClock } from "../../shared/kernel/clock.ts";
import { closeAllDatabases, getDatabase } from "../../shared/kernel/db.ts";
import { createOpsHandler } from "../../supabase/functions/ops/handler.ts";
import { createReconcileHandler } from "../../supabase/functions/reconcile/handler.ts";
import { freshDatabase } from "../support/database.ts";
import { startLiveKitDouble } from "../support/livekit_double.ts";
import { serviceToken, TEST_SUPABASE_URL } from "../support/tokens.ts";

const SECRET = "ops-reconcile-test-jwt-secret-of-32-characters";

Deno.test("reconcile's runs, succeeded and failed, show in ops", async () => {
  const fresh = await freshDatabase({ seed: false });
  await fresh.sql.end();
  const livekit = startLiveKitDouble();
  const db = getDatabase(fresh.url, { max: 1 });
  const clock = fixedClock("2026-12-06T12:00:00Z");
  const verifier = createTokenVerifier({
    supabaseUrl: TEST_SUPABASE_URL,
    jwtSecret: SECRET,
    remoteJwks: false,
  });
  const common = { db, verifier, cors: { allowedOrigins: [] }, clock, logSink: () => {} };
  const reconcile = createReconcileHandler({
    ...common,
    livekit: {
      url: livekit.url,
      httpUrl: livekit.url,
      apiKey: livekit.apiKey,
      apiSecret: livekit.apiSecret,
      timeoutSeconds: 2,
    },
  });
  const ops = createOpsHandler(common);
  const token = await serviceToken(SECRET);
  const post = async (handler: typeof reconcile, method = "POST") => {
    const response = await handler(
      new Request(`http://127.0.0.1/functions/v1/${handler === ops ? "ops" : "reconcile"}`, {
        method,
        headers: { authorization: `Bearer ${token}` },
        body: method === "POST" ? "{}" : undefined,
      }),
    );
    return { status: response.status, body: await response.json() };
  };
  try {
    const ran = await post(reconcile);
    assert.equal(ran.status, 200, JSON.stringify(ran.body));
    let view = (await post(ops, "GET")).body;
    assert.deepEqual(view.reconcile, {
      lastRun: {
        startedAt: "2026-12-06T12:00:00.000Z",
        finishedAt: "2026-12-06T12:00:00.000Z",
        outcome: "succeeded",
        result: ran.body,
        errorCode: null,
      },
      secondsSinceLastRun: 0,
      secondsSinceLastSuccess: 0,
      failedLastHour: 0,
    });
    assert.deepEqual(view.alerts, []);
    assert.equal(view.status, "ok");

    // Five minutes later LiveKit answers 503 to everything.
    clock.advance(300);
    livekit.mode = "fail";
    const failed = await post(reconcile);
    assert.equal(failed.status, 503);
    assert.equal(failed.body.error.code, "livekit_unavailable");
    view = (await post(ops, "GET")).body;
    assert.deepEqual(view.reconcile.lastRun, {
      startedAt: "2026-12-06T12:05:00.000Z",
      finishedAt: "2026-12-06T12:05:00.000Z",
      outcome: "failed",
      result: null,
      errorCode: "livekit_unavailable",
    });
    assert.equal(view.reconcile.secondsSinceLastSuccess, 300);
    assert.equal(view.reconcile.failedLastHour, 1);
    assert.deepEqual(view.alerts.map((alert: { code: string }) => alert.code), [
      "reconcile_failed",
    ]);

    // Ten more minutes of failures: the last success is 15 minutes old and pages.
    clock.advance(601);
    assert.equal((await post(reconcile)).status, 503);
    view = (await post(ops, "GET")).body;
    assert.deepEqual(view.alerts.map((alert: { code: string }) => alert.code), [
      "reconcile_stale",
      "reconcile_failed",
    ]);
    const runs = await db.sql`select count(*)::int as n from private.reconcile_runs`;
    assert.equal(runs[0].n, 3);
  } finally {
    await closeAllDatabases();
    await livekit.close();
  }
});
