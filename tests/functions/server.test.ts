/**
 * The local server (`dev/server.ts`) over HTTP, as a subprocess on a fresh database: the
 * gateway's routing, the contract's 404 and request ids, and boot failures.
 */
import assert from "node:assert/strict";
import { ServerStartError, spawnServer, startServer } from "../support/stack.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function json(response: Response): Promise<Record<string, unknown>> {
  assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
  return await response.json();
}

async function assertNotFound(response: Response): Promise<string> {
  const body = await json(response);
  assert.equal(response.status, 404);
  const requestId = response.headers.get("x-request-id");
  assert.ok(requestId, "x-request-id is missing");
  assert.deepEqual(Object.keys(body), ["error"]);
  const error = body.error as Record<string, unknown>;
  assert.equal(error.code, "not_found");
  assert.equal(typeof error.message, "string");
  assert.equal(error.requestId, requestId);
  return requestId;
}

Deno.test("the local server serves the functions on a fresh database", async (t) => {
  const server = await startServer();
  try {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);

    await t.step("a function answers under /functions/v1/<name>", async () => {
      const response = await fetch(`${server.url}/functions/v1/health`);
      await response.body?.cancel();
      assert.equal(response.status, 200);
    });

    await t.step("an unknown function is 404 not_found with a new request id", async () => {
      const requestId = await assertNotFound(
        await fetch(`${server.url}/functions/v1/no-such-function`),
      );
      assert.match(requestId, UUID);
    });

    await t.step("paths outside /functions/v1/<name> are 404 not_found", async () => {
      for (const path of ["/", "/functions/v1", "/functions/v1/", "/functions/v2/health"]) {
        await assertNotFound(await fetch(`${server.url}${path}`, { method: "POST", body: "{}" }));
      }
    });

    await t.step("a well-formed x-request-id of the caller is echoed", async () => {
      for (const given of ["abcd1234", "client.req_42-x", "a".repeat(128)]) {
        const response = await fetch(`${server.url}/functions/v1/nope`, {
          headers: { "x-request-id": given },
        });
        assert.equal(await assertNotFound(response), given);
      }
    });

    await t.step("a malformed x-request-id is replaced by a new one", async () => {
      for (const given of ["short", "has space inside", "semi;colon1", "a".repeat(129)]) {
        const response = await fetch(`${server.url}/functions/v1/nope`, {
          headers: { "x-request-id": given },
        });
        assert.match(await assertNotFound(response), UUID);
      }
    });
  } finally {
    await server.stop();
  }
  const status = await server.exited;
  assert.equal(
    status.code,
    0,
    `SIGTERM should stop the server cleanly:\n${server.output().stderr}`,
  );
});

Deno.test("the local server routes to a function with the full URL", async (t) => {
  const server = await startServer({
    seed: false,
    args: ["--functions-dir", "tests/fixtures/functions"],
  });
  try {
    await t.step("the function sees the full URL, sub-path and query included", async () => {
      for (const path of ["/functions/v1/echo", "/functions/v1/echo/a/b?x=1&link=abc"]) {
        const response = await fetch(`${server.url}${path}`, { method: "PUT", body: "{}" });
        assert.equal(response.status, 200);
        assert.deepEqual(await response.json(), { method: "PUT", url: `${server.url}${path}` });
      }
    });

    await t.step("a name is matched whole, not as a prefix", async () => {
      await assertNotFound(await fetch(`${server.url}/functions/v1/echoes`));
    });

    await t.step("folders starting with _ are not functions", async () => {
      await assertNotFound(await fetch(`${server.url}/functions/v1/_shared`));
    });

    await t.step("a function that throws is 500 internal_error without details", async () => {
      const response = await fetch(`${server.url}/functions/v1/throws`, {
        headers: { "x-request-id": "throws-request-1" },
      });
      const body = await json(response);
      assert.equal(response.status, 500);
      assert.equal(response.headers.get("x-request-id"), "throws-request-1");
      const error = body.error as Record<string, unknown>;
      assert.equal(error.code, "internal_error");
      assert.equal(error.requestId, "throws-request-1");
      assert.doesNotMatch(JSON.stringify(body), /fixture failure/);
    });
  } finally {
    await server.stop();
  }
  assert.match(server.output().stderr, /"requestId":"throws-request-1"/);
});

async function bootFailure(options: Parameters<typeof startServer>[0]): Promise<ServerStartError> {
  try {
    const server = await startServer(options);
    await server.stop();
  } catch (error) {
    assert.ok(error instanceof ServerStartError, String(error));
    return error;
  }
  assert.fail("the server started although a setting was bad");
}

Deno.test("a weak LINK_SIGNING_SECRET stops the server at boot, naming it", async () => {
  const weak = "too-short-link-secret";
  const error = await bootFailure({ seed: false, env: { LINK_SIGNING_SECRET: weak } });
  assert.equal(error.code, 1);
  assert.match(error.stderr, /^Cannot start [a-z-]+: .*LINK_SIGNING_SECRET/m);
  assert.ok(!`${error.stdout}${error.stderr}`.includes(weak), "the secret's value was printed");
});

Deno.test("with no configuration the server keeps its database and secrets across restarts", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "dev-server-" });
  const args = ["--data-dir", dataDir, "--functions-dir", "tests/fixtures/functions"];
  try {
    const first = await spawnServer({ args });
    await first.stop();
    const firstOutput = first.output().stdout;
    assert.equal((await first.exited).code, 0);
    assert.match(firstOutput, /Development defaults for: .*SUPABASE_JWT_SECRET/);
    assert.match(firstOutput, /Access token of the seeded streamer A/);

    const secretsFile = `${dataDir}/dev-secrets.json`;
    const secrets = JSON.parse(await Deno.readTextFile(secretsFile));
    assert.equal((await Deno.stat(secretsFile)).mode! & 0o777, 0o600);
    for (const name of ["SUPABASE_JWT_SECRET", "LINK_SIGNING_SECRET", "LIVEKIT_API_SECRET"]) {
      assert.ok(secrets[name].length >= 32, `${name} is too short`);
      assert.ok(!firstOutput.includes(secrets[name]), `${name} was printed`);
    }

    const second = await spawnServer({ args });
    await second.stop();
    assert.equal((await second.exited).code, 0);
    assert.match(second.output().stdout, /Database: up to date/);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(secretsFile)), secrets);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
