/**
 * Bad input to the session functions: every field wrong in type, missing, too long, and
 * unknown extra fields. Each is `400 invalid_request` naming the field, and nothing is written.
 */
import assert from "node:assert/strict";
import { STREAMER_A } from "../../dev/seed_ids.ts";
import { apiClient, assertError } from "../support/api.ts";
import { startLiveKitDouble } from "../support/livekit_double.ts";
import { startServer } from "../support/stack.ts";
import { userToken } from "../support/tokens.ts";

const UUID = "0b9a8f4e-4a47-4c8e-8f3c-9d2f1e0b6a11";
const long = (n: number) => "x".repeat(n);

interface Case {
  name: string;
  fn: string;
  body?: unknown;
  query?: string;
  headers?: Record<string, string>;
  path: string;
}

const CASES: Case[] = [
  { name: "title of the wrong type", fn: "start-session", body: { title: 5 }, path: "title" },
  { name: "empty title", fn: "start-session", body: { title: "" }, path: "title" },
  { name: "title too long", fn: "start-session", body: { title: long(121) }, path: "title" },
  {
    name: "record of the wrong type",
    fn: "start-session",
    body: { record: "yes" },
    path: "record",
  },
  {
    name: "client of the wrong type",
    fn: "start-session",
    body: { client: "quest" },
    path: "client",
  },
  {
    name: "client.platform too long",
    fn: "start-session",
    body: { client: { platform: long(41) } },
    path: "client.platform",
  },
  {
    name: "client.appVersion of the wrong type",
    fn: "start-session",
    body: { client: { appVersion: 1 } },
    path: "client.appVersion",
  },
  {
    name: "client.device too long",
    fn: "start-session",
    body: { client: { device: long(81) } },
    path: "client.device",
  },
  {
    name: "unknown field in client",
    fn: "start-session",
    body: { client: { os: "android" } },
    path: "client.os",
  },
  {
    name: "unknown top-level field",
    fn: "start-session",
    body: { streamerId: UUID },
    path: "streamerId",
  },
  {
    name: "Idempotency-Key too short",
    fn: "start-session",
    body: {},
    headers: { "idempotency-key": "short" },
    path: "Idempotency-Key",
  },
  {
    name: "Idempotency-Key too long",
    fn: "start-session",
    body: {},
    headers: { "idempotency-key": long(129) },
    path: "Idempotency-Key",
  },
  { name: "sessionId missing", fn: "end-session", body: {}, path: "sessionId" },
  {
    name: "sessionId of the wrong type",
    fn: "end-session",
    body: { sessionId: 7 },
    path: "sessionId",
  },
  {
    name: "sessionId not a UUID",
    fn: "end-session",
    body: { sessionId: "abc" },
    path: "sessionId",
  },
  {
    name: "sessionId too long",
    fn: "end-session",
    body: { sessionId: long(300) },
    path: "sessionId",
  },
  {
    name: "unknown field",
    fn: "end-session",
    body: { sessionId: UUID, reason: "done" },
    path: "reason",
  },
  { name: "sessionId and link both missing", fn: "livekit-token", body: {}, path: "sessionId" },
  {
    name: "sessionId of the wrong type",
    fn: "livekit-token",
    body: { sessionId: true },
    path: "sessionId",
  },
  {
    name: "sessionId too long",
    fn: "livekit-token",
    body: { sessionId: long(100) },
    path: "sessionId",
  },
  { name: "link of the wrong type", fn: "livekit-token", body: { link: 42 }, path: "link" },
  { name: "link too long", fn: "livekit-token", body: { link: long(5000) }, path: "link" },
  {
    name: "unknown field",
    fn: "livekit-token",
    body: { sessionId: UUID, identity: "me" },
    path: "identity",
  },
  { name: "sessionId not a UUID", fn: "streams", query: "sessionId=abc", path: "sessionId" },
  { name: "sessionId too long", fn: "streams", query: `sessionId=${long(200)}`, path: "sessionId" },
  {
    name: "sessionId given twice",
    fn: "streams",
    query: `sessionId=${UUID}&sessionId=${UUID}`,
    path: "sessionId",
  },
  { name: "unknown query parameter", fn: "streams", query: "status=live", path: "status" },
];

Deno.test("bad input to the session functions is 400 and writes nothing", async (t) => {
  const livekit = startLiveKitDouble();
  const server = await startServer({
    env: {
      ...livekit.env,
    },
  });
  const api = apiClient(server.url);
  const token = await userToken(server.env.SUPABASE_JWT_SECRET, STREAMER_A);
  try {
    for (const c of CASES) {
      await t.step(`${c.fn}: ${c.name}`, async () => {
        const response = c.body === undefined
          ? await api.get(`${c.fn}?${c.query}`, { token, headers: c.headers })
          : await api.post(c.fn, c.body, { token, headers: c.headers });
        const error = assertError(response, 400, "invalid_request");
        const paths = error.details.map((issue: { path: string }) => issue.path);
        assert.ok(paths.includes(c.path), `expected ${c.path} in ${JSON.stringify(error.details)}`);
      });
    }

    for (const fn of ["start-session", "end-session", "livekit-token"]) {
      await t.step(
        `${fn}: broken JSON, a non-object, an oversized body, a wrong method`,
        async () => {
          assertError(await api.post(fn, "{", { token }), 400, "invalid_json");
          assertError(await api.post(fn, "[]", { token }), 400, "invalid_json");
          assertError(
            await api.post(fn, { pad: long(70_000) }, { token }),
            413,
            "payload_too_large",
          );
          const wrong = await api.get(fn, { token });
          assertError(wrong, 405, "method_not_allowed");
          assert.equal(wrong.headers.get("allow"), "POST, OPTIONS");
        },
      );
    }

    await t.step(
      "nothing was written: no session, no LiveKit call, no rate-limit hit",
      async () => {
        assert.deepEqual(livekit.calls, []);
        const list = await api.get("streams", { token });
        assert.deepEqual(list.body.streams, []);
        // All ten starts of the minute are still available.
        for (let i = 0; i < 10; i++) {
          const started = await api.post("start-session", {}, { token });
          assert.equal(started.status, i === 0 ? 201 : 409);
        }
      },
    );
  } finally {
    await server.stop();
    await livekit.close();
  }
});
