/** `health` over HTTP through the local server, on a fresh database. */
import assert from "node:assert/strict";
import { startLiveKitDouble } from "../support/livekit_double.ts";
import { startServer } from "../support/stack.ts";
import { unusedPort } from "../support/net.ts";

Deno.test("health reports ok, its version and features, and no secrets", async () => {
  const livekit = startLiveKitDouble();
  const server = await startServer({
    env: {
      ...livekit.env,
      RELEASE: "1.2.3",
      ALLOWED_ORIGINS: "https://viewer.example.test",
    },
  });
  try {
    const response = await fetch(`${server.url}/functions/v1/health`);
    const text = await response.text();
    assert.equal(response.status, 200);
    const body = JSON.parse(text);
    assert.equal(body.status, "ok");
    assert.equal(body.version, "1.2.3");
    assert.equal(body.checks.database.status, "ok");
    assert.equal(body.checks.livekit.status, "ok");
    assert.deepEqual(body.features, { livekit: true, storage: false, email: false, sentry: false });
    for (const [name, value] of Object.entries(server.env)) {
      if (/SECRET|KEY|DATABASE_URL/.test(name)) assert.ok(!text.includes(value), `${name} leaked`);
    }
    assert.ok(response.headers.get("x-request-id"));

    const preflight = await fetch(`${server.url}/functions/v1/health`, {
      method: "OPTIONS",
      headers: { origin: "https://viewer.example.test", "access-control-request-method": "GET" },
    });
    await preflight.body?.cancel();
    assert.equal(preflight.status, 204);
    assert.equal(
      preflight.headers.get("access-control-allow-origin"),
      "https://viewer.example.test",
    );
  } finally {
    await server.stop();
    await livekit.close();
  }
});

Deno.test("health is degraded when a configured dependency is down", async () => {
  const server = await startServer({
    env: { LIVEKIT_URL: `http://127.0.0.1:${unusedPort()}` },
  });
  try {
    const response = await fetch(`${server.url}/functions/v1/health`);
    const body = await response.json();
    assert.equal(response.status, 200);
    assert.equal(body.status, "degraded");
    assert.equal(body.checks.database.status, "ok");
    assert.equal(body.checks.livekit.status, "down");
  } finally {
    await server.stop();
  }
});

Deno.test("health refuses other methods with 405 and Allow", async () => {
  const server = await startServer();
  try {
    const response = await fetch(`${server.url}/functions/v1/health`, {
      method: "POST",
      body: "{}",
    });
    const body = await response.json();
    assert.equal(response.status, 405);
    assert.equal(body.error.code, "method_not_allowed");
    assert.equal(response.headers.get("allow"), "GET, OPTIONS");
    assert.equal(body.error.requestId, response.headers.get("x-request-id"));
  } finally {
    await server.stop();
  }
});
