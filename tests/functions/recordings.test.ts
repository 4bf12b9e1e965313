/**
 * sign-upload-url, complete-upload, recording-url and delete-recording over HTTP through the
 * local server, with GCS played by the loopback double (which verifies every V4 signature
 * with the service account's public key). Fixture rows are written before the first request:
 * on PGlite the server then holds the only connection, so later state is read through the
 * functions themselves.
 */
import assert from "node:assert/strict";
import {
  DEMO_RECORDING,
  DEMO_SESSION,
  GUARDIAN_A_ROW,
  GUARDIAN_USER,
  REVOKED_ROW,
  REVOKED_USER,
  STREAMER_A,
  STREAMER_B,
} from "../../dev/seed_ids.ts";
import { createLinkSigner, type LinkType } from "../../shared/kernel/link.ts";
import { apiClient, assertError, type JsonResponse } from "../support/api.ts";
import { type GcsDouble, startGcsDouble } from "../support/gcs_double.ts";
import { startServer, type TestServer } from "../support/stack.ts";
import { userToken } from "../support/tokens.ts";

const SESSION_B = "b0000000-0000-4000-8000-00000000000b";
const EGRESS_RECORDING = "e0000000-0000-4000-8000-00000000000e";
const FAILED_UPLOAD = "f0000000-0000-4000-8000-00000000000f";
const READY_RECORDING = "a0000000-0000-4000-8000-00000000000a";
const DEMO_OBJECT = `uploads/${STREAMER_A}/${DEMO_SESSION}/${DEMO_RECORDING}.mp4`;
const READY_OBJECT = `recordings/${STREAMER_A}/${DEMO_SESSION}/${READY_RECORDING}.mp4`;

interface Harness {
  server: TestServer;
  gcs: GcsDouble;
  api: ReturnType<typeof apiClient>;
  tokens: { a: string; b: string; guardian: string; revoked: string };
  link(
    recordingId: string,
    options?: { type?: LinkType; guardianId?: string; lifetimeSeconds?: number },
  ): Promise<string>;
  stop(): Promise<void>;
}

async function harness(options: { storage?: boolean } = {}): Promise<Harness> {
  const gcs = await startGcsDouble();
  const server = await startServer({ env: options.storage === false ? {} : gcs.env });
  try {
    await addFixtures(server);
  } catch (error) {
    await server.stop();
    await gcs.close();
    throw error;
  }
  gcs.put(DEMO_OBJECT, new Uint8Array([1, 2, 3]));
  gcs.put(READY_OBJECT, new Uint8Array([4, 5, 6, 7]));
  const secret = server.env.SUPABASE_JWT_SECRET;
  const links = createLinkSigner(server.env.LINK_SIGNING_SECRET);
  return {
    server,
    gcs,
    api: apiClient(server.url),
    tokens: {
      a: await userToken(secret, STREAMER_A),
      b: await userToken(secret, STREAMER_B),
      guardian: await userToken(secret, GUARDIAN_USER),
      revoked: await userToken(secret, REVOKED_USER),
    },
    link: (recordingId, link = {}) =>
      links.sign({
        type: link.type ?? "recording",
        guardianId: link.guardianId ?? GUARDIAN_A_ROW,
        objectId: recordingId,
      }, { lifetimeSeconds: link.lifetimeSeconds }),
    async stop() {
      await server.stop();
      await gcs.close();
    },
  };
}

/** Rows the seed lacks: a session of B, and recordings of A in other states. */
async function addFixtures(server: TestServer): Promise<void> {
  await server.sql`
    insert into public.stream_sessions
      (id, streamer_id, title, status, end_reason, room_name, record, created_at, started_at,
       ended_at, updated_at)
    values (${SESSION_B}, ${STREAMER_B}, 'B plays', 'ended', 'streamer_ended',
            ${`session-${SESSION_B}`}, false,
            now(), now(), now(), now())`;
  await server.sql`
    insert into public.recordings
      (id, session_id, streamer_id, source, status, egress_id, object_path, content_type,
       size_bytes, expected_size_bytes, error, ready_at)
    values
      (${EGRESS_RECORDING}, ${DEMO_SESSION}, ${STREAMER_A}, 'egress', 'recording', 'EG_test',
       null, 'video/mp4', null, null, null, null),
      (${FAILED_UPLOAD}, ${DEMO_SESSION}, ${STREAMER_A}, 'upload', 'failed', null,
       ${`uploads/${STREAMER_A}/${DEMO_SESSION}/${FAILED_UPLOAD}.mp4`}, 'video/mp4', null, 10,
       'The upload was not completed within a day.', null),
      (${READY_RECORDING}, ${DEMO_SESSION}, ${STREAMER_A}, 'egress', 'ready', 'EG_ready',
       ${READY_OBJECT}, 'video/mp4', 4, null, null, now())`;
}

function sign(h: Harness, body: Record<string, unknown>, token = h.tokens.a) {
  return h.api.post("sign-upload-url", body, { token });
}

function put(upload: { url: string; headers: Record<string, string> }, body: Uint8Array) {
  return fetch(upload.url, { method: "PUT", headers: upload.headers, body: body.slice() });
}

async function xmlCode(response: Response): Promise<[number, string]> {
  return [response.status, /<Code>(\w+)<\/Code>/.exec(await response.text())?.[1] ?? ""];
}

async function sessionRecordings(h: Harness): Promise<Record<string, string>> {
  const detail = await h.api.get(`streams?sessionId=${DEMO_SESSION}`, { token: h.tokens.a });
  assert.equal(detail.status, 200);
  return Object.fromEntries(
    detail.body.recordings.map((r: { id: string; status: string }) => [r.id, r.status]),
  );
}

function assertNoSecretsIn(h: Harness, ...responses: JsonResponse[]) {
  const { stdout, stderr } = h.server.output();
  const signatures = responses.flatMap((response) => {
    const url = response.body?.url ?? response.body?.upload?.url;
    return url ? [new URL(url).searchParams.get("X-Goog-Signature")!] : [];
  });
  for (const text of [stdout, stderr]) {
    assert.ok(!text.includes("PRIVATE KEY"), "the service account's key reached the logs");
    for (const signature of signatures) {
      assert.ok(!text.includes(signature), "a signed URL reached the logs");
    }
  }
}

Deno.test("a recording's life over HTTP: sign, PUT to GCS, complete, URL, GET, delete, gone", async (t) => {
  const h = await harness();
  try {
    const data = new Uint8Array([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110]);
    const signed = await sign(h, {
      sessionId: DEMO_SESSION,
      contentType: "video/webm",
      sizeBytes: data.byteLength,
    });
    const { recording, upload } = signed.body;
    const objectName = `uploads/${STREAMER_A}/${DEMO_SESSION}/${recording?.id}.webm`;

    await t.step("sign-upload-url: an uploading recording and a 15-minute signed PUT", () => {
      assert.equal(signed.status, 201, JSON.stringify(signed.body));
      assert.equal(signed.headers.get("cache-control"), "no-store");
      assert.match(recording.id, /^[0-9a-f-]{36}$/);
      assert.deepEqual({ ...recording, id: "", createdAt: "" }, {
        id: "",
        sessionId: DEMO_SESSION,
        source: "upload",
        status: "uploading",
        contentType: "video/webm",
        sizeBytes: null,
        durationSeconds: null,
        createdAt: "",
        readyAt: null,
        error: null,
      });
      assert.equal(upload.method, "PUT");
      assert.deepEqual(upload.headers, {
        "content-type": "video/webm",
        "x-goog-content-length-range": "11,11",
        "x-goog-if-generation-match": "0",
      });
      const url = new URL(upload.url);
      assert.equal(url.origin, h.gcs.url);
      assert.equal(url.pathname, `/${h.gcs.bucket}/${objectName}`);
      assert.equal(url.searchParams.get("X-Goog-Expires"), "900");
      assert.equal(
        url.searchParams.get("X-Goog-SignedHeaders"),
        "content-type;host;x-goog-content-length-range;x-goog-if-generation-match",
      );
      const lifetime = Date.parse(upload.expiresAt) - Date.now();
      assert.ok(lifetime > 14 * 60_000 && lifetime <= 15 * 60_000, `lifetime ${lifetime}`);
      assert.ok(!JSON.stringify(signed.body).includes("PRIVATE KEY"));
    });

    await t.step(
      "complete-upload before the PUT: 409 upload_incomplete, still uploading",
      async () => {
        const early = await h.api.post("complete-upload", { recordingId: recording.id }, {
          token: h.tokens.a,
        });
        const error = assertError(early, 409, "upload_incomplete");
        assert.deepEqual(error.details, {
          expected: { sizeBytes: 11, contentType: "video/webm" },
          found: null,
        });
        assert.equal((await sessionRecordings(h))[recording.id], "uploading");
      },
    );

    await t.step("the headset PUTs the file to the signed URL", async () => {
      assert.deepEqual(await xmlCode(await put(upload, data)), [200, ""]);
      assert.deepEqual(h.gcs.objects.get(objectName)?.data, data);
      assert.equal(h.gcs.objects.get(objectName)?.contentType, "video/webm");
    });

    await t.step("recording-url before completion: 409 recording_not_ready", async () => {
      const early = await h.api.get(`recording-url?recordingId=${recording.id}`, {
        token: h.tokens.a,
      });
      assertError(early, 409, "recording_not_ready");
    });

    await t.step("complete-upload: ready, with the stored size; again: the same", async () => {
      const done = await h.api.post("complete-upload", { recordingId: recording.id }, {
        token: h.tokens.a,
      });
      assert.equal(done.status, 200, JSON.stringify(done.body));
      assert.equal(done.body.recording.status, "ready");
      assert.equal(done.body.recording.sizeBytes, 11);
      assert.ok(Date.parse(done.body.recording.readyAt) <= Date.now());
      const again = await h.api.post("complete-upload", { recordingId: recording.id }, {
        token: h.tokens.a,
      });
      assert.equal(again.status, 200);
      assert.deepEqual(again.body.recording, done.body.recording);
      assert.ok(h.gcs.tokensIssued >= 1, "the JSON API was called with an exchanged token");
    });

    await t.step(
      "after completion the same URL cannot write again: 412, the bytes stay",
      async () => {
        const other = new Uint8Array(11).fill(9);
        assert.deepEqual(await xmlCode(await put(upload, other)), [412, "PreconditionFailed"]);
        const { "x-goog-if-generation-match": _, ...unconditional } = upload.headers;
        assert.deepEqual(await xmlCode(await put({ ...upload, headers: unconditional }, other)), [
          403,
          "SignatureDoesNotMatch",
        ]);
        assert.deepEqual(h.gcs.objects.get(objectName)?.data, data);
      },
    );

    let playUrl = "";
    await t.step("recording-url: a signed GET of at most 15 minutes naming the file", async () => {
      const answer = await h.api.get(`recording-url?recordingId=${recording.id}`, {
        token: h.tokens.a,
      });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(answer.headers.get("cache-control"), "no-store");
      assert.equal(answer.body.recording.id, recording.id);
      assert.equal(answer.body.recording.status, "ready");
      const lifetime = Date.parse(answer.body.expiresAt) - Date.now();
      assert.ok(lifetime > 14 * 60_000 && lifetime <= 15 * 60_000, `lifetime ${lifetime}`);
      playUrl = answer.body.url;
      assert.equal(new URL(playUrl).searchParams.get("X-Goog-Expires"), "900");

      const played = await fetch(playUrl);
      assert.equal(played.status, 200);
      assert.equal(
        played.headers.get("content-disposition"),
        'inline; filename="First stream 2026-01-05.webm"',
      );
      assert.deepEqual(new Uint8Array(await played.arrayBuffer()), data);
      assertNoSecretsIn(h, signed, answer);
    });

    await t.step("delete-recording: the object leaves the bucket, the row is deleted", async () => {
      const deleted = await h.api.post("delete-recording", { recordingId: recording.id }, {
        token: h.tokens.a,
      });
      assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
      assert.equal(deleted.body.recording.status, "deleted");
      assert.equal(h.gcs.objects.has(objectName), false);
      const again = await h.api.post("delete-recording", { recordingId: recording.id }, {
        token: h.tokens.a,
      });
      assert.equal(again.status, 200);
      assert.equal(again.body.recording.status, "deleted");
    });

    await t.step("afterwards: no URL, the old URL finds nothing, no completion", async () => {
      const url = await h.api.get(`recording-url?recordingId=${recording.id}`, {
        token: h.tokens.a,
      });
      assertError(url, 404, "not_found");
      assert.deepEqual(await xmlCode(await fetch(playUrl)), [404, "NoSuchKey"]);
      const complete = await h.api.post("complete-upload", { recordingId: recording.id }, {
        token: h.tokens.a,
      });
      assertError(complete, 404, "not_found");
      assert.equal((await sessionRecordings(h))[recording.id], undefined);
    });
  } finally {
    await h.stop();
  }
});

Deno.test("signed uploads resist tampering: path, type, size, expiry, another streamer's ids", async (t) => {
  const h = await harness();
  try {
    const data = new Uint8Array(32).fill(7);
    const signed = await sign(h, {
      sessionId: DEMO_SESSION,
      contentType: "video/mp4",
      sizeBytes: data.byteLength,
    });
    assert.equal(signed.status, 201);
    const { recording, upload } = signed.body;

    await t.step("another path (another recording, another streamer's prefix): 403", async () => {
      const otherRecording = upload.url.replace(recording.id, crypto.randomUUID());
      assert.deepEqual(await xmlCode(await put({ ...upload, url: otherRecording }, data)), [
        403,
        "SignatureDoesNotMatch",
      ]);
      const otherStreamer = upload.url.replace(`uploads/${STREAMER_A}/`, `uploads/${STREAMER_B}/`);
      assert.deepEqual(await xmlCode(await put({ ...upload, url: otherStreamer }, data)), [
        403,
        "SignatureDoesNotMatch",
      ]);
    });

    await t.step("another content type: 403", async () => {
      const headers = { ...upload.headers, "content-type": "video/webm" };
      assert.deepEqual(await xmlCode(await put({ ...upload, headers }, data)), [
        403,
        "SignatureDoesNotMatch",
      ]);
    });

    await t.step("a body larger or smaller than announced: 400", async () => {
      assert.deepEqual(await xmlCode(await put(upload, new Uint8Array(33))), [
        400,
        "EntityTooLarge",
      ]);
      assert.deepEqual(await xmlCode(await put(upload, new Uint8Array(31))), [
        400,
        "EntityTooSmall",
      ]);
      const headers = { ...upload.headers, "x-goog-content-length-range": "0,1000000" };
      assert.deepEqual(await xmlCode(await put({ ...upload, headers }, new Uint8Array(99))), [
        403,
        "SignatureDoesNotMatch",
      ]);
    });

    await t.step("the URL after 15 minutes: 400 ExpiredToken", async () => {
      h.gcs.advance(15 * 60 + 1);
      assert.deepEqual(await xmlCode(await put(upload, data)), [400, "ExpiredToken"]);
      h.gcs.advance(-(15 * 60 + 1));
    });

    await t.step("nothing reached the bucket, so the upload stays incomplete", async () => {
      assert.equal(h.gcs.objects.size, 2, "only the fixtures' objects");
      const complete = await h.api.post("complete-upload", { recordingId: recording.id }, {
        token: h.tokens.a,
      });
      assertError(complete, 409, "upload_incomplete");
      assert.equal((await sessionRecordings(h))[recording.id], "uploading");
    });

    await t.step("another streamer cannot sign for, complete, play or delete A's", async () => {
      assertError(
        await sign(
          h,
          { sessionId: DEMO_SESSION, contentType: "video/mp4", sizeBytes: 1 },
          h.tokens.b,
        ),
        404,
        "not_found",
      );
      for (const id of [recording.id, READY_RECORDING]) {
        assertError(
          await h.api.post("complete-upload", { recordingId: id }, { token: h.tokens.b }),
          404,
          "not_found",
        );
        assertError(
          await h.api.get(`recording-url?recordingId=${id}`, { token: h.tokens.b }),
          404,
          "not_found",
        );
        assertError(
          await h.api.post("delete-recording", { recordingId: id }, { token: h.tokens.b }),
          404,
          "not_found",
        );
      }
      const statuses = await sessionRecordings(h);
      assert.equal(statuses[recording.id], "uploading");
      assert.equal(statuses[READY_RECORDING], "ready");
      assert.ok(h.gcs.objects.has(READY_OBJECT));
    });

    await t.step(
      "B's own upload goes under B's prefix, and A's token cannot use B's session",
      async () => {
        const mine = await sign(h, {
          sessionId: SESSION_B,
          contentType: "video/mp4",
          sizeBytes: 3,
        }, h.tokens.b);
        assert.equal(mine.status, 201);
        assert.equal(
          new URL(mine.body.upload.url).pathname,
          `/${h.gcs.bucket}/uploads/${STREAMER_B}/${SESSION_B}/${mine.body.recording.id}.mp4`,
        );
        assertError(
          await sign(h, { sessionId: SESSION_B, contentType: "video/mp4", sizeBytes: 3 }),
          404,
          "not_found",
        );
      },
    );

    await t.step("a correct PUT within the time completes", async () => {
      assert.deepEqual(await xmlCode(await put(upload, data)), [200, ""]);
      const complete = await h.api.post("complete-upload", { recordingId: recording.id }, {
        token: h.tokens.a,
      });
      assert.equal(complete.status, 200);
      assert.equal(complete.body.recording.sizeBytes, 32);
    });
  } finally {
    await h.stop();
  }
});

Deno.test("who may sign, complete, play and delete: owner, guardian, revoked, stranger, link", async (t) => {
  const h = await harness();
  try {
    const url = (id: string, token: string) =>
      h.api.get(`recording-url?recordingId=${id}`, { token });

    await t.step("sign-upload-url: the owner only", async () => {
      const body = { sessionId: DEMO_SESSION, contentType: "video/mp4", sizeBytes: 1 };
      assert.equal((await sign(h, body)).status, 201);
      assertError(await sign(h, body, h.tokens.guardian), 403, "forbidden");
      assertError(await sign(h, body, h.tokens.revoked), 404, "not_found");
      assertError(await sign(h, body, h.tokens.b), 404, "not_found");
      assertError(await h.api.post("sign-upload-url", body), 401, "unauthorized");
    });

    await t.step("complete-upload: the owner only", async () => {
      const body = { recordingId: READY_RECORDING };
      assert.equal(
        (await h.api.post("complete-upload", body, { token: h.tokens.a })).status,
        200,
      );
      assertError(
        await h.api.post("complete-upload", body, { token: h.tokens.guardian }),
        403,
        "forbidden",
      );
      assertError(
        await h.api.post("complete-upload", body, { token: h.tokens.revoked }),
        404,
        "not_found",
      );
      assertError(await h.api.post("complete-upload", body), 401, "unauthorized");
    });

    await t.step(
      "recording-url: owner and active guardian; not revoked, not strangers",
      async () => {
        for (const token of [h.tokens.a, h.tokens.guardian]) {
          const answer = await url(DEMO_RECORDING, token);
          assert.equal(answer.status, 200, JSON.stringify(answer.body));
          const played = await fetch(answer.body.url);
          assert.equal(played.status, 200);
          assert.equal(
            played.headers.get("content-disposition"),
            'inline; filename="First stream 2026-01-05.mp4"',
          );
          await played.body?.cancel();
        }
        assertError(await url(DEMO_RECORDING, h.tokens.revoked), 404, "not_found");
        assertError(await url(DEMO_RECORDING, h.tokens.b), 404, "not_found");
        assertError(
          await h.api.get(`recording-url?recordingId=${DEMO_RECORDING}`),
          401,
          "unauthorized",
        );
      },
    );

    await t.step("recording-url with a recording link: header or ?link=", async () => {
      const link = await h.link(DEMO_RECORDING);
      const byHeader = await h.api.get("recording-url", { headers: { "x-link-token": link } });
      assert.equal(byHeader.status, 200, JSON.stringify(byHeader.body));
      assert.equal(byHeader.body.recording.id, DEMO_RECORDING);
      const byQuery = await h.api.get(`recording-url?link=${encodeURIComponent(link)}`);
      assert.equal(byQuery.status, 200);
      const played = await fetch(byQuery.body.url);
      assert.equal(played.status, 200);
      await played.body?.cancel();
    });

    await t.step("a URL never outlives the link it was asked with", async () => {
      const link = await h.link(DEMO_RECORDING, { lifetimeSeconds: 120 });
      const answer = await h.api.get("recording-url", { headers: { "x-link-token": link } });
      assert.equal(answer.status, 200);
      const lifetime = Date.parse(answer.body.expiresAt) - Date.now();
      assert.ok(lifetime <= 120_000 && lifetime > 100_000, `lifetime ${lifetime}`);
      assert.ok(Number(new URL(answer.body.url).searchParams.get("X-Goog-Expires")) <= 120);
    });

    await t.step(
      "bad links: wrong type, revoked guardian, other recording, expired, forged",
      async () => {
        const bad = [
          await h.link(DEMO_RECORDING, { type: "watch" }),
          await h.link(DEMO_RECORDING, { guardianId: REVOKED_ROW }),
          await h.link(crypto.randomUUID()),
          await h.link(DEMO_RECORDING, { lifetimeSeconds: -10 }),
          (await h.link(DEMO_RECORDING)).slice(0, -4) + "AAAA",
        ];
        for (const link of bad) {
          assertError(
            await h.api.get("recording-url", { headers: { "x-link-token": link } }),
            401,
            "invalid_link",
          );
        }
      },
    );

    await t.step("delete-recording: not by the revoked guardian or a stranger", async () => {
      for (const token of [h.tokens.revoked, h.tokens.b]) {
        assertError(
          await h.api.post("delete-recording", { recordingId: READY_RECORDING }, { token }),
          404,
          "not_found",
        );
      }
      assertError(
        await h.api.post("delete-recording", { recordingId: READY_RECORDING }),
        401,
        "unauthorized",
      );
      assert.ok(h.gcs.objects.has(READY_OBJECT));
    });

    await t.step(
      "delete-recording by the active primary guardian, after which links fail",
      async () => {
        const link = await h.link(READY_RECORDING);
        assert.equal(
          (await h.api.get("recording-url", { headers: { "x-link-token": link } })).status,
          200,
        );
        const deleted = await h.api.post("delete-recording", { recordingId: READY_RECORDING }, {
          token: h.tokens.guardian,
        });
        assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
        assert.equal(deleted.body.recording.status, "deleted");
        assert.equal(h.gcs.objects.has(READY_OBJECT), false);
        assertError(
          await h.api.get("recording-url", { headers: { "x-link-token": link } }),
          401,
          "invalid_link",
        );
        assertError(await url(READY_RECORDING, h.tokens.a), 404, "not_found");
      },
    );
  } finally {
    await h.stop();
  }
});

Deno.test("recordings that are not ready, failed, in progress, or not uploads", async (t) => {
  const h = await harness();
  try {
    await t.step("recording-url: 409 recording_not_ready for in-progress and failed", async () => {
      for (const id of [EGRESS_RECORDING, FAILED_UPLOAD]) {
        assertError(
          await h.api.get(`recording-url?recordingId=${id}`, { token: h.tokens.a }),
          409,
          "recording_not_ready",
        );
      }
    });

    await t.step(
      "complete-upload: 409 upload_incomplete for a failed upload and an egress",
      async () => {
        for (const id of [FAILED_UPLOAD, EGRESS_RECORDING]) {
          assertError(
            await h.api.post("complete-upload", { recordingId: id }, { token: h.tokens.a }),
            409,
            "upload_incomplete",
          );
        }
      },
    );

    await t.step(
      "delete-recording: 409 while LiveKit still writes; a failed one goes",
      async () => {
        assertError(
          await h.api.post("delete-recording", { recordingId: EGRESS_RECORDING }, {
            token: h.tokens.a,
          }),
          409,
          "recording_not_ready",
        );
        const failed = await h.api.post("delete-recording", { recordingId: FAILED_UPLOAD }, {
          token: h.tokens.a,
        });
        assert.equal(failed.status, 200, JSON.stringify(failed.body));
        assert.equal(failed.body.recording.status, "deleted");
      },
    );

    await t.step("unknown recording ids are 404 everywhere", async () => {
      const id = crypto.randomUUID();
      assertError(
        await h.api.post("complete-upload", { recordingId: id }, { token: h.tokens.a }),
        404,
        "not_found",
      );
      assertError(
        await h.api.get(`recording-url?recordingId=${id}`, { token: h.tokens.a }),
        404,
        "not_found",
      );
      assertError(
        await h.api.post("delete-recording", { recordingId: id }, { token: h.tokens.a }),
        404,
        "not_found",
      );
    });

    await t.step("sizes at the limits, and other types", async () => {
      const body = (contentType: string, sizeBytes: number) => ({
        sessionId: DEMO_SESSION,
        contentType,
        sizeBytes,
      });
      const largest = await sign(h, body("video/mp4", 524_288_000));
      assert.equal(largest.status, 201);
      assert.equal(
        largest.body.upload.headers["x-goog-content-length-range"],
        "524288000,524288000",
      );
      assertError(await sign(h, body("video/mp4", 524_288_001)), 413, "payload_too_large");
      assertError(await sign(h, body("video/quicktime", 10)), 415, "unsupported_media_type");
      assertError(await sign(h, body("video/mp4; codecs=avc1", 10)), 415, "unsupported_media_type");
      const upper = await sign(h, body("Video/MP4", 10));
      assert.equal(upper.status, 201);
      assert.equal(upper.body.recording.contentType, "video/mp4");
      assert.equal(upper.body.upload.headers["content-type"], "video/mp4");
    });
  } finally {
    await h.stop();
  }
});

Deno.test("storage down or unconfigured: 503 storage_unavailable and nothing changes", async (t) => {
  const h = await harness();
  try {
    await t.step("GCS failing: completion and deletion wait; signing still works", async () => {
      h.gcs.mode = "fail";
      const signed = await sign(h, {
        sessionId: DEMO_SESSION,
        contentType: "video/mp4",
        sizeBytes: 3,
      });
      assert.equal(signed.status, 201, "signing is offline");
      const started = performance.now();
      assertError(
        await h.api.post("complete-upload", { recordingId: signed.body.recording.id }, {
          token: h.tokens.a,
        }),
        503,
        "storage_unavailable",
      );
      const deleted = await h.api.post("delete-recording", { recordingId: DEMO_RECORDING }, {
        token: h.tokens.a,
      });
      const error = assertError(deleted, 503, "storage_unavailable");
      assert.ok(!JSON.stringify(error).includes("PRIVATE KEY"));
      assert.ok(performance.now() - started < 20_000, "the failure took too long");
      const statuses = await sessionRecordings(h);
      assert.equal(statuses[DEMO_RECORDING], "ready");
      assert.equal(statuses[signed.body.recording.id], "uploading");
    });

    await t.step("GCS back: the deletion goes through", async () => {
      h.gcs.mode = "ok";
      const deleted = await h.api.post("delete-recording", { recordingId: DEMO_RECORDING }, {
        token: h.tokens.a,
      });
      assert.equal(deleted.status, 200);
      assert.equal(h.gcs.objects.has(DEMO_OBJECT), false);
    });
  } finally {
    await h.stop();
  }

  const bare = await harness({ storage: false });
  try {
    await t.step("no bucket configured: every recording function answers 503", async () => {
      const body = { sessionId: DEMO_SESSION, contentType: "video/mp4", sizeBytes: 3 };
      assertError(await sign(bare, body), 503, "storage_unavailable");
      assertError(
        await bare.api.get(`recording-url?recordingId=${DEMO_RECORDING}`, {
          token: bare.tokens.a,
        }),
        503,
        "storage_unavailable",
      );
      assertError(
        await bare.api.post("delete-recording", { recordingId: DEMO_RECORDING }, {
          token: bare.tokens.a,
        }),
        503,
        "storage_unavailable",
      );
      assert.equal((await sessionRecordings(bare))[DEMO_RECORDING], "ready");
    });
  } finally {
    await bare.stop();
  }
});
