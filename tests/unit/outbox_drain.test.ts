/**
 * The helper that functions use to ask for an outbox drain after they commit: it runs in the
 * background (handed to `EdgeRuntime.waitUntil` on the edge runtime), authenticates as the
 * service caller, and only logs when it fails.
 */
import assert from "node:assert/strict";
import { createTokenVerifier } from "../../shared/kernel/auth.ts";
import { hasWaitUntil, runInBackground } from "../../shared/kernel/background.ts";
import { createLogger } from "../../shared/kernel/log.ts";
import { createDrainRequester } from "../../shared/outbox_drain.ts";

const JWT_SECRET = "jwt-secret-of-the-project-with-32-characters";
const SERVICE_KEY = "sb_secret_service-role-key-with-32-characters";

function captureLog() {
  const lines: Record<string, unknown>[] = [];
  return { lines, log: createLogger({}, (line) => lines.push(JSON.parse(line))) };
}

function startDrainEndpoint(answer = 200) {
  const calls: { authorization: string; body: unknown; path: string }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    calls.push({
      authorization: req.headers.get("authorization") ?? "",
      body: await req.json(),
      path: new URL(req.url).pathname,
    });
    return Response.json({ sent: 2, retried: 0, failed: 0, suppressed: 1 }, { status: answer });
  });
  return { url: `http://127.0.0.1:${server.addr.port}/functions/v1`, calls, server };
}

Deno.test("background work goes to EdgeRuntime.waitUntil where it exists, and failures are logged", async () => {
  const { lines, log } = captureLog();
  assert.equal(hasWaitUntil(), false);
  const waited: Promise<unknown>[] = [];
  const global = globalThis as { EdgeRuntime?: unknown };
  global.EdgeRuntime = { waitUntil: (promise: Promise<unknown>) => waited.push(promise) };
  try {
    assert.equal(hasWaitUntil(), true);
    runInBackground(() => Promise.reject(new Error("boom")), log, "background work failed");
    assert.equal(waited.length, 1);
    await waited[0];
  } finally {
    delete global.EdgeRuntime;
  }
  assert.equal(lines.length, 1);
  assert.equal(lines[0].level, "warn");
  assert.equal(lines[0].message, "background work failed");
  assert.equal(lines[0].error, "boom");

  // Elsewhere it just runs.
  let ran = false;
  const done = Promise.withResolvers<void>();
  runInBackground(
    () => {
      ran = true;
      done.resolve();
      return Promise.resolve();
    },
    log,
    "never",
  );
  await done.promise;
  assert.equal(ran, true);
});

Deno.test("a drain request signs a short service_role token the functions accept", async () => {
  const endpoint = startDrainEndpoint();
  try {
    const drain = createDrainRequester({
      functionsUrl: endpoint.url,
      jwtSecret: JWT_SECRET,
      limit: 50,
    });
    assert.deepEqual(await drain.requestNow(), { sent: 2, retried: 0, failed: 0, suppressed: 1 });
    const [call] = endpoint.calls;
    assert.equal(call.path, "/functions/v1/send-notification");
    assert.deepEqual(call.body, { limit: 50 });
    const verifier = createTokenVerifier({
      supabaseUrl: "http://supabase.test",
      jwtSecret: JWT_SECRET,
      remoteJwks: false,
    });
    await verifier.verifyService(call.authorization.replace(/^Bearer /, ""));
    await assert.rejects(verifier.verifyUser(call.authorization.replace(/^Bearer /, "")));

    const withKey = createDrainRequester({
      functionsUrl: endpoint.url,
      serviceRoleKey: SERVICE_KEY,
      jwtSecret: JWT_SECRET,
    });
    await withKey.requestNow();
    assert.equal(endpoint.calls[1].authorization, `Bearer ${SERVICE_KEY}`);
    assert.deepEqual(endpoint.calls[1].body, { limit: 100 });
  } finally {
    await endpoint.server.shutdown();
  }
});

Deno.test("a failed or impossible drain request is logged, never thrown at the caller", async () => {
  const endpoint = startDrainEndpoint(503);
  try {
    const { lines, log } = captureLog();
    const waited: Promise<unknown>[] = [];
    const global = globalThis as { EdgeRuntime?: unknown };
    global.EdgeRuntime = { waitUntil: (promise: Promise<unknown>) => waited.push(promise) };
    try {
      createDrainRequester({ functionsUrl: endpoint.url, jwtSecret: JWT_SECRET }).request(log);
      createDrainRequester({ functionsUrl: endpoint.url }).request(log);
      await Promise.all(waited);
    } finally {
      delete global.EdgeRuntime;
    }
    assert.equal(endpoint.calls.length, 1, "without a credential nothing is sent");
    assert.deepEqual(lines.map((line) => line.level), ["warn", "warn"]);
    const errors = lines.map((line) => String(line.error)).sort();
    assert.match(errors[0], /answered 503/);
    assert.match(errors[1], /neither SUPABASE_SERVICE_ROLE_KEY nor SUPABASE_JWT_SECRET/);
    assert.ok(!JSON.stringify(lines).includes(JWT_SECRET));
  } finally {
    await endpoint.server.shutdown();
  }
});

Deno.test("requests while a drain is in flight become one more drain, after the follow-up delay", async () => {
  const calls: number[] = [];
  const first = Promise.withResolvers<void>();
  const drained = Promise.withResolvers<void>();
  const fetchStub: typeof fetch = async () => {
    calls.push(calls.length + 1);
    if (calls.length === 1) await first.promise;
    if (calls.length === 2) drained.resolve();
    return Response.json({ sent: 1, retried: 0, failed: 0, suppressed: 0 });
  };
  const waits: number[] = [];
  const delayOver = Promise.withResolvers<void>();
  const drain = createDrainRequester({
    functionsUrl: "http://127.0.0.1:9/functions/v1",
    serviceRoleKey: SERVICE_KEY,
    fetch: fetchStub,
    followUpDelayMs: 250,
    wait: (ms) => {
      waits.push(ms);
      return delayOver.promise;
    },
  });
  const { lines, log } = captureLog();
  drain.request(log);
  await new Promise((resolve) => setTimeout(resolve, 10));
  for (let i = 0; i < 5; i++) drain.request(log); // while the first is in flight
  assert.equal(calls.length, 1);
  first.resolve();
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.deepEqual(waits, [250], "the follow-up waits for the delay");
  assert.equal(calls.length, 1);
  drain.request(log); // during the delay: joins the follow-up
  delayOver.resolve();
  await drained.promise;
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(calls.length, 2, "six requests after the first made one more drain, not six");
  assert.deepEqual(lines.map((line) => line.message), ["outbox drained", "outbox drained"]);
  // Idle again: the next request drains at once, without waiting.
  drain.request(log);
  await new Promise((resolve) => setTimeout(resolve, 10));
  assert.equal(calls.length, 3);
  assert.deepEqual(waits, [250]);
});
