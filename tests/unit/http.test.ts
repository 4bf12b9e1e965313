import assert from "node:assert/strict";
import { z } from "zod";
import { readJson } from "../../shared/kernel/body.ts";
import { conflict, HttpError } from "../../shared/kernel/errors.ts";
import { createFunction, json } from "../../shared/kernel/http.ts";

const lines: string[] = [];
const cors = { allowedOrigins: ["https://viewer.example.test"] };
const schema = z.strictObject({ sessionId: z.uuid(), title: z.string().max(5).optional() });

const handle = createFunction({ name: "demo", cors, logSink: (line) => lines.push(line) }, {
  async POST(request) {
    const input = await readJson(request, schema);
    if (input.title === "boom") throw new Error("secret internals: select * from users");
    if (input.title === "dup") {
      throw Object.assign(new Error("duplicate key value violates unique constraint"), {
        name: "PostgresError",
        code: "23505",
        constraint_name: "stream_sessions_one_active_per_streamer",
      });
    }
    if (input.title === "conn") {
      throw Object.assign(new Error("write CONNECT_TIMEOUT 127.0.0.1:5432"), {
        code: "CONNECT_TIMEOUT",
      });
    }
    if (input.title === "409") throw conflict("session_ended", "It ended.", { sessionId: "x" });
    return json({ ok: true, input }, 201);
  },
  GET() {
    return Promise.resolve(json({ ok: true }));
  },
});

const URL_ = "http://127.0.0.1/functions/v1/demo";
const ID = "0b9a8f4e-4a47-4c8e-8f3c-9d2f1e0b6a11";

function post(body: BodyInit | null, headers: Record<string, string> = {}) {
  return handle(new Request(URL_, { method: "POST", body, headers }));
}

async function assertError(response: Response, status: number, code: string) {
  assert.equal(response.status, status);
  const body = await response.json();
  assert.equal(body.error.code, code);
  assert.equal(typeof body.error.message, "string");
  assert.equal(body.error.requestId, response.headers.get("x-request-id"));
  return body.error;
}

Deno.test("a valid body reaches the operation", async () => {
  const response = await post(JSON.stringify({ sessionId: ID }));
  assert.equal(response.status, 201);
  assert.deepEqual((await response.json()).input, { sessionId: ID });
});

Deno.test("non-JSON and non-object bodies are 400 invalid_json", async () => {
  for (const body of ["{", "not json", "[1,2]", "null", '"text"', "42"]) {
    await assertError(await post(body), 400, "invalid_json");
  }
});

Deno.test("invalid fields are 400 invalid_request with details per field", async () => {
  const error = await assertError(
    await post(JSON.stringify({ sessionId: "nope", title: "too long", extra: 1 })),
    400,
    "invalid_request",
  );
  const paths = error.details.map((issue: { path: string }) => issue.path).sort();
  assert.deepEqual(paths, ["extra", "sessionId", "title"]);
  assert.ok(error.details.some((issue: { message: string }) => issue.message.includes("extra")));
  const missing = await assertError(await post(""), 400, "invalid_request");
  assert.deepEqual(missing.details.map((issue: { path: string }) => issue.path), ["sessionId"]);
});

Deno.test("bodies over 64 KiB are 413, declared or streamed", async () => {
  const big = JSON.stringify({ sessionId: ID, pad: "x".repeat(70 * 1024) });
  await assertError(await post(big), 413, "payload_too_large");
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < 80; i++) controller.enqueue(new Uint8Array(1024).fill(32));
      controller.close();
    },
  });
  await assertError(await post(stream), 413, "payload_too_large");
});

Deno.test("a wrong method is 405 with Allow", async () => {
  const response = await handle(new Request(URL_, { method: "DELETE" }));
  await assertError(response, 405, "method_not_allowed");
  assert.equal(response.headers.get("allow"), "POST, GET, OPTIONS");
});

Deno.test("a sub-path of the function is 404 not_found", async () => {
  await assertError(await handle(new Request(`${URL_}/extra`)), 404, "not_found");
});

Deno.test("unexpected errors are a generic 500 that leaks nothing, logged with the cause", async () => {
  lines.length = 0;
  const response = await post(JSON.stringify({ sessionId: ID, title: "boom" }));
  const error = await assertError(response, 500, "internal_error");
  assert.doesNotMatch(JSON.stringify(error), /select|internals|stack/i);
  const logged = lines.map((line) => JSON.parse(line));
  assert.ok(logged.some((line) => line.level === "error" && /internals/.test(line.error)));
});

Deno.test("database errors map to the contract", async () => {
  const live = await assertError(
    await post(JSON.stringify({ sessionId: ID, title: "dup" })),
    409,
    "session_already_live",
  );
  assert.doesNotMatch(JSON.stringify(live), /constraint|duplicate/);
  const down = await post(JSON.stringify({ sessionId: ID, title: "conn" }));
  await assertError(down, 503, "database_unavailable");
  assert.ok(down.headers.get("retry-after"));
  const named = await assertError(
    await post(JSON.stringify({ sessionId: ID, title: "409" })),
    409,
    "session_ended",
  );
  assert.deepEqual(named.details, { sessionId: "x" });
});

Deno.test("x-request-id echoes a well-formed caller id and replaces a bad one", async () => {
  const good = await handle(new Request(URL_, { headers: { "x-request-id": "client-req.0001" } }));
  assert.equal(good.headers.get("x-request-id"), "client-req.0001");
  const bad = await handle(new Request(URL_, { headers: { "x-request-id": "bad id!" } }));
  assert.match(bad.headers.get("x-request-id")!, /^[0-9a-f-]{36}$/);
  const short = await handle(new Request(URL_, { headers: { "x-request-id": "short" } }));
  assert.notEqual(short.headers.get("x-request-id"), "short");
});

Deno.test("CORS: allowed origins get headers and a 204 preflight, others get none", async () => {
  const preflight = await handle(
    new Request(URL_, { method: "OPTIONS", headers: { origin: "https://viewer.example.test" } }),
  );
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get("access-control-allow-origin"), "https://viewer.example.test");
  assert.match(preflight.headers.get("access-control-allow-headers")!, /x-link-token/);
  assert.match(preflight.headers.get("access-control-allow-headers")!, /idempotency-key/);
  assert.match(preflight.headers.get("access-control-allow-methods")!, /POST/);

  const foreign = await handle(
    new Request(URL_, { method: "OPTIONS", headers: { origin: "https://evil.example.test" } }),
  );
  assert.equal(foreign.headers.get("access-control-allow-origin"), null);

  const simple = await handle(
    new Request(URL_, { headers: { origin: "https://viewer.example.test" } }),
  );
  assert.equal(simple.headers.get("access-control-allow-origin"), "https://viewer.example.test");
  const error = await handle(
    new Request(`${URL_}/x`, { headers: { origin: "https://viewer.example.test" } }),
  );
  assert.equal(error.headers.get("access-control-allow-origin"), "https://viewer.example.test");

  const open = createFunction({ name: "demo", cors: { allowedOrigins: ["*"] }, logSink() {} }, {
    GET: () => Promise.resolve(json({})),
  });
  const any = await open(new Request(URL_, { headers: { origin: "https://a.example" } }));
  assert.equal(any.headers.get("access-control-allow-origin"), "*");
});

Deno.test("each request writes one JSON log line without tokens or addresses", async () => {
  lines.length = 0;
  await handle(
    new Request(`${URL_}?link=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl`, {
      headers: { authorization: "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl" },
    }),
  );
  assert.equal(lines.length, 1);
  const line = JSON.parse(lines[0]);
  assert.equal(line.function, "demo");
  assert.equal(line.status, 200);
  assert.ok(line.requestId);
  assert.doesNotMatch(lines[0], /eyJ|link=/);
});

Deno.test("HttpError headers reach the response", async () => {
  const limited = createFunction({ name: "demo", cors, logSink() {} }, {
    GET() {
      throw new HttpError(429, "rate_limited", "Slow down.", { headers: { "retry-after": "7" } });
    },
  });
  const response = await limited(new Request(URL_));
  await assertError(response, 429, "rate_limited");
  assert.equal(response.headers.get("retry-after"), "7");
});
