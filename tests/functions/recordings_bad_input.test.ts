/**
 * Bad input to the recording functions: every field wrong in type, missing, too long, and
 * unknown extra fields (an object name above all: the server chooses it). Each is `400
 * invalid_request` naming the field, and nothing is written: no recording, no object, no call
 * to GCS, no rate-limit hit.
 */
import assert from "node:assert/strict";
import { DEMO_RECORDING, DEMO_SESSION, STREAMER_A } from "../../dev/seed_ids.ts";
import { apiClient, assertError } from "../support/api.ts";
import { startGcsDouble } from "../support/gcs_double.ts";
import { startServer } from "../support/stack.ts";
import { userToken } from "../support/tokens.ts";

const UUID = "0b9a8f4e-4a47-4c8e-8f3c-9d2f1e0b6a11";
const long = (n: number) => "x".repeat(n);
const SIGN = { sessionId: DEMO_SESSION, contentType: "video/mp4", sizeBytes: 10 };

interface Case {
  name: string;
  fn: string;
  body?: unknown;
  query?: string;
  path: string;
}

const CASES: Case[] = [
  {
    name: "sessionId missing",
    fn: "sign-upload-url",
    body: { ...SIGN, sessionId: undefined },
    path: "sessionId",
  },
  {
    name: "sessionId of the wrong type",
    fn: "sign-upload-url",
    body: { ...SIGN, sessionId: 5 },
    path: "sessionId",
  },
  {
    name: "sessionId not a UUID",
    fn: "sign-upload-url",
    body: { ...SIGN, sessionId: "abc" },
    path: "sessionId",
  },
  {
    name: "sessionId too long",
    fn: "sign-upload-url",
    body: { ...SIGN, sessionId: long(300) },
    path: "sessionId",
  },
  {
    name: "contentType missing",
    fn: "sign-upload-url",
    body: { ...SIGN, contentType: undefined },
    path: "contentType",
  },
  {
    name: "contentType of the wrong type",
    fn: "sign-upload-url",
    body: { ...SIGN, contentType: ["video/mp4"] },
    path: "contentType",
  },
  {
    name: "contentType empty",
    fn: "sign-upload-url",
    body: { ...SIGN, contentType: "" },
    path: "contentType",
  },
  {
    name: "contentType too long",
    fn: "sign-upload-url",
    body: { ...SIGN, contentType: `video/${long(250)}` },
    path: "contentType",
  },
  {
    name: "sizeBytes missing",
    fn: "sign-upload-url",
    body: { ...SIGN, sizeBytes: undefined },
    path: "sizeBytes",
  },
  {
    name: "sizeBytes of the wrong type",
    fn: "sign-upload-url",
    body: { ...SIGN, sizeBytes: "10" },
    path: "sizeBytes",
  },
  {
    name: "sizeBytes not whole",
    fn: "sign-upload-url",
    body: { ...SIGN, sizeBytes: 10.5 },
    path: "sizeBytes",
  },
  {
    name: "sizeBytes zero",
    fn: "sign-upload-url",
    body: { ...SIGN, sizeBytes: 0 },
    path: "sizeBytes",
  },
  {
    name: "sizeBytes negative",
    fn: "sign-upload-url",
    body: { ...SIGN, sizeBytes: -1 },
    path: "sizeBytes",
  },
  {
    name: "an object name of the client's",
    fn: "sign-upload-url",
    body: { ...SIGN, objectName: "x.mp4" },
    path: "objectName",
  },
  {
    name: "unknown field",
    fn: "sign-upload-url",
    body: { ...SIGN, streamerId: UUID },
    path: "streamerId",
  },
  { name: "recordingId missing", fn: "complete-upload", body: {}, path: "recordingId" },
  {
    name: "recordingId of the wrong type",
    fn: "complete-upload",
    body: { recordingId: 7 },
    path: "recordingId",
  },
  {
    name: "recordingId not a UUID",
    fn: "complete-upload",
    body: { recordingId: "abc" },
    path: "recordingId",
  },
  {
    name: "recordingId too long",
    fn: "complete-upload",
    body: { recordingId: long(300) },
    path: "recordingId",
  },
  {
    name: "unknown field",
    fn: "complete-upload",
    body: { recordingId: UUID, sizeBytes: 1 },
    path: "sizeBytes",
  },
  { name: "recordingId missing", fn: "delete-recording", body: {}, path: "recordingId" },
  {
    name: "recordingId of the wrong type",
    fn: "delete-recording",
    body: { recordingId: null },
    path: "recordingId",
  },
  {
    name: "recordingId not a UUID",
    fn: "delete-recording",
    body: { recordingId: "abc" },
    path: "recordingId",
  },
  {
    name: "recordingId too long",
    fn: "delete-recording",
    body: { recordingId: long(300) },
    path: "recordingId",
  },
  {
    name: "unknown field",
    fn: "delete-recording",
    body: { recordingId: UUID, force: true },
    path: "force",
  },
  {
    name: "recordingId and link both missing",
    fn: "recording-url",
    query: "",
    path: "recordingId",
  },
  {
    name: "recordingId not a UUID",
    fn: "recording-url",
    query: "recordingId=abc",
    path: "recordingId",
  },
  {
    name: "recordingId too long",
    fn: "recording-url",
    query: `recordingId=${long(300)}`,
    path: "recordingId",
  },
  {
    name: "recordingId given twice",
    fn: "recording-url",
    query: `recordingId=${UUID}&recordingId=${UUID}`,
    path: "recordingId",
  },
  { name: "link too long", fn: "recording-url", query: `link=${long(4097)}`, path: "link" },
  { name: "link given twice", fn: "recording-url", query: "link=a&link=b", path: "link" },
  {
    name: "unknown query parameter",
    fn: "recording-url",
    query: `recordingId=${UUID}&download=1`,
    path: "download",
  },
];

Deno.test("bad input to the recording functions is 400 and writes nothing", async (t) => {
  const gcs = await startGcsDouble();
  const server = await startServer({ env: gcs.env });
  const api = apiClient(server.url);
  const token = await userToken(server.env.SUPABASE_JWT_SECRET, STREAMER_A);
  try {
    for (const c of CASES) {
      await t.step(`${c.fn}: ${c.name}`, async () => {
        const response = c.body === undefined
          ? await api.get(`${c.fn}?${c.query}`, { token })
          : await api.post(c.fn, c.body, { token });
        const error = assertError(response, 400, "invalid_request");
        const paths = error.details.map((issue: { path: string }) => issue.path);
        assert.ok(paths.includes(c.path), `expected ${c.path} in ${JSON.stringify(error.details)}`);
      });
    }

    for (const fn of ["sign-upload-url", "complete-upload", "delete-recording"]) {
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

    await t.step("recording-url: a wrong method", async () => {
      const wrong = await api.post("recording-url", { recordingId: DEMO_RECORDING }, { token });
      assertError(wrong, 405, "method_not_allowed");
      assert.equal(wrong.headers.get("allow"), "GET, OPTIONS");
    });

    await t.step(
      "nothing was written: no recording, no object, no GCS call, no rate-limit hit",
      async () => {
        assert.equal(gcs.objects.size, 0);
        assert.deepEqual(gcs.requests, []);
        const detail = await api.get(`streams?sessionId=${DEMO_SESSION}`, { token });
        assert.deepEqual(detail.body.recordings.map((r: { id: string }) => r.id), [DEMO_RECORDING]);
        // All thirty signatures of the minute are still there, and no more.
        for (let i = 0; i < 30; i++) {
          const signed = await api.post("sign-upload-url", SIGN, { token });
          assert.equal(signed.status, 201, `signature ${i + 1}: ${JSON.stringify(signed.body)}`);
        }
        const limited = await api.post("sign-upload-url", SIGN, { token });
        assertError(limited, 429, "rate_limited");
        assert.ok(Number(limited.headers.get("retry-after")) >= 1);
      },
    );
  } finally {
    await server.stop();
    await gcs.close();
  }
});
