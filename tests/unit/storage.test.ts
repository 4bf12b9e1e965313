/**
 * The storage wrapper (`shared/storage.ts`, the real `@google-cloud/storage`) against the GCS
 * double: what it signs, what the double accepts and refuses, the token exchange at the
 * credentials' `token_uri`, and failures that become `503 storage_unavailable`.
 */
import assert from "node:assert/strict";
import { HttpError } from "../../shared/kernel/errors.ts";
import { storageEnv } from "../../shared/kernel/env.ts";
import { createObjectStorage, type ObjectStorage } from "../../shared/storage.ts";
import { type GcsDouble, startGcsDouble } from "../support/gcs_double.ts";

const NAME = "uploads/11111111-1111-4111-8111-111111111111/s/r.mp4";

async function withStorage(
  test: (gcs: GcsDouble, storage: ObjectStorage) => Promise<void>,
  options: { timeoutMs?: number } = {},
) {
  const gcs = await startGcsDouble();
  try {
    const settings = storageEnv.parse(gcs.env)!;
    await test(gcs, createObjectStorage(settings, options));
  } finally {
    await gcs.close();
  }
}

function put(url: string, headers: Record<string, string>, body: Uint8Array<ArrayBuffer>) {
  return fetch(url, { method: "PUT", headers, body });
}

async function status(response: Promise<Response>): Promise<[number, string]> {
  const answered = await response;
  const text = await answered.text();
  return [answered.status, /<Code>(\w+)<\/Code>/.exec(text)?.[1] ?? ""];
}

Deno.test("a signed upload binds method, path, type and exact size, creates only, and lives 15 minutes", async () => {
  await withStorage(async (gcs, storage) => {
    const now = new Date();
    const upload = await storage.signUpload(NAME, { contentType: "video/mp4", sizeBytes: 5, now });
    const url = new URL(upload.url);
    assert.equal(url.origin, gcs.url);
    assert.equal(url.pathname, `/${gcs.bucket}/${NAME}`);
    assert.equal(url.searchParams.get("X-Goog-Algorithm"), "GOOG4-RSA-SHA256");
    assert.equal(url.searchParams.get("X-Goog-Expires"), "900");
    assert.equal(
      url.searchParams.get("X-Goog-SignedHeaders"),
      "content-type;host;x-goog-content-length-range;x-goog-if-generation-match",
    );
    assert.deepEqual(upload.headers, {
      "content-type": "video/mp4",
      "x-goog-content-length-range": "5,5",
      "x-goog-if-generation-match": "0",
    });
    assert.equal(upload.method, "PUT");
    assert.equal(upload.expiresAt.getTime(), Math.floor(now.getTime() / 1000) * 1000 + 900_000);
    assert.equal(gcs.tokensIssued, 0, "signing needs no token: it is offline");

    const body = new Uint8Array([1, 2, 3, 4, 5]);
    assert.deepEqual(await status(put(upload.url, upload.headers, body)), [200, ""]);
    assert.equal(gcs.objects.get(NAME)?.contentType, "video/mp4");
    assert.deepEqual(gcs.objects.get(NAME)?.data, body);

    // Tampering: every change breaks the signature or the range.
    const other = upload.url.replace(NAME, NAME.replace("r.mp4", "x.mp4"));
    assert.deepEqual(await status(put(other, upload.headers, body)), [
      403,
      "SignatureDoesNotMatch",
    ]);
    const webm = { ...upload.headers, "content-type": "video/webm" };
    assert.deepEqual(await status(put(upload.url, webm, body)), [403, "SignatureDoesNotMatch"]);
    const wider = { ...upload.headers, "x-goog-content-length-range": "0,999999" };
    assert.deepEqual(await status(put(upload.url, wider, body)), [403, "SignatureDoesNotMatch"]);
    const bare = { "content-type": "video/mp4" };
    assert.deepEqual(await status(put(upload.url, bare, body)), [403, "SignatureDoesNotMatch"]);
    assert.deepEqual(await status(put(upload.url, upload.headers, new Uint8Array(6))), [
      400,
      "EntityTooLarge",
    ]);
    assert.deepEqual(await status(put(upload.url, upload.headers, new Uint8Array(4))), [
      400,
      "EntityTooSmall",
    ]);
    const forged = upload.url.replace(/X-Goog-Signature=[0-9a-f]{8}/, "X-Goog-Signature=00000000");
    assert.deepEqual(await status(put(forged, upload.headers, body)), [
      403,
      "SignatureDoesNotMatch",
    ]);
    const unsigned = upload.url.split("?")[0];
    assert.deepEqual(await status(put(unsigned, upload.headers, body)), [403, "AccessDenied"]);

    // Write once: the same URL again cannot replace the bytes, with or without the condition.
    const generation = gcs.objects.get(NAME)!.generation;
    const replacement = new Uint8Array([9, 9, 9, 9, 9]);
    assert.deepEqual(await status(put(upload.url, upload.headers, replacement)), [
      412,
      "PreconditionFailed",
    ]);
    const { "x-goog-if-generation-match": _, ...unconditional } = upload.headers;
    assert.deepEqual(await status(put(upload.url, unconditional, replacement)), [
      403,
      "SignatureDoesNotMatch",
    ]);
    const current = { ...upload.headers, "x-goog-if-generation-match": generation };
    assert.deepEqual(await status(put(upload.url, current, replacement)), [
      403,
      "SignatureDoesNotMatch",
    ]);
    assert.deepEqual(gcs.objects.get(NAME)?.data, body);
    assert.equal(gcs.objects.get(NAME)?.generation, generation);

    gcs.advance(901);
    assert.deepEqual(await status(put(upload.url, upload.headers, body)), [400, "ExpiredToken"]);
  });
});

Deno.test("metadata and deletion go through the JSON API with a token from token_uri", async () => {
  await withStorage(async (gcs, storage) => {
    assert.equal(await storage.stat(NAME), undefined);
    gcs.put(NAME, new Uint8Array(7), "video/webm");
    assert.deepEqual(await storage.stat(NAME), {
      name: NAME,
      sizeBytes: 7,
      contentType: "video/webm",
    });
    assert.equal(await storage.remove(NAME), true);
    assert.equal(gcs.objects.has(NAME), false);
    assert.equal(await storage.remove(NAME), false, "an object already gone is fine");
    assert.equal(gcs.tokensIssued, 1, "one token, exchanged at the double, then reused");
    const json = gcs.requests.filter((request) => request.kind === "json");
    assert.deepEqual(json.map((request) => `${request.method} ${request.status}`), [
      "GET 404",
      "GET 200",
      "DELETE 204",
      "DELETE 404",
    ]);
    assert.equal(json[0].path, `/storage/v1/b/${gcs.bucket}/o/${encodeURIComponent(NAME)}`);
  });
});

Deno.test("a signed download serves the object with the signed content disposition until it expires", async () => {
  await withStorage(async (gcs, storage) => {
    gcs.put(NAME, new Uint8Array([9, 8, 7]));
    const now = new Date();
    const disposition = `inline; filename="First stream 2026-01-05.mp4"`;
    const download = await storage.signDownload(NAME, {
      now,
      expiresAt: new Date(now.getTime() + 300_000),
      contentDisposition: disposition,
    });
    assert.equal(new URL(download.url).searchParams.get("X-Goog-Expires"), "300");
    const response = await fetch(download.url);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-disposition"), disposition);
    assert.equal(response.headers.get("content-type"), "video/mp4");
    assert.deepEqual(new Uint8Array(await response.arrayBuffer()), new Uint8Array([9, 8, 7]));

    const changed = download.url.replace("filename%3D", "filename%3Devil");
    assert.deepEqual(await status(fetch(changed)), [403, "SignatureDoesNotMatch"]);
    const put = await fetch(download.url, { method: "PUT", body: "x" });
    assert.deepEqual([put.status, /<Code>(\w+)/.exec(await put.text())?.[1]], [
      403,
      "SignatureDoesNotMatch",
    ]);
    gcs.advance(301);
    assert.deepEqual(await status(fetch(download.url)), [400, "ExpiredToken"]);
  });
});

Deno.test("GCS failing or hanging becomes 503 storage_unavailable within seconds", async () => {
  await withStorage(async (gcs, storage) => {
    for (const mode of ["fail", "hang"] as const) {
      gcs.mode = mode;
      const started = performance.now();
      await assert.rejects(storage.stat(NAME), (error: unknown) => {
        assert.ok(error instanceof HttpError);
        assert.equal(error.status, 503);
        assert.equal(error.code, "storage_unavailable");
        assert.ok(!error.message.includes("PRIVATE KEY"));
        return true;
      });
      assert.ok(performance.now() - started < 8000, `${mode} took too long`);
    }
    // Signing stays offline: it works while GCS is down.
    const upload = await storage.signUpload(NAME, {
      contentType: "video/mp4",
      sizeBytes: 1,
      now: new Date(),
    });
    assert.ok(upload.url.startsWith(gcs.url));
  }, { timeoutMs: 500 });
});

Deno.test("an assertion signed by another key gets no token, so the JSON API refuses", async () => {
  const gcs = await startGcsDouble();
  const impostor = await startGcsDouble({ bucket: gcs.bucket });
  try {
    // The impostor's key with the real double's client email and token URL.
    const credentials = {
      ...impostor.credentials,
      client_email: gcs.serviceAccount.clientEmail,
      token_uri: `${gcs.url}/token`,
    };
    const settings = storageEnv.parse({
      ...gcs.env,
      GCS_CREDENTIALS: JSON.stringify(credentials),
    })!;
    const storage = createObjectStorage(settings, { timeoutMs: 1000 });
    await assert.rejects(storage.stat(NAME), (error: unknown) => {
      assert.equal((error as HttpError).code, "storage_unavailable");
      return true;
    });
    assert.equal(gcs.tokensIssued, 0);
    assert.ok(gcs.requests.some((request) => request.kind === "token" && request.status === 400));
  } finally {
    await impostor.close();
    await gcs.close();
  }
});

Deno.test("names with a dot segment are never signed or sent to GCS", async () => {
  await withStorage(async (gcs, storage) => {
    const now = new Date();
    for (
      const name of [
        "uploads/a/../b/r.mp4",
        "recordings/a/s/./r.mp4",
        "../r.mp4",
        "recordings/a/s/..",
      ]
    ) {
      await assert.rejects(
        storage.signUpload(name, { contentType: "video/mp4", sizeBytes: 1, now }),
      );
      await assert.rejects(storage.signDownload(name, { now, expiresAt: new Date(+now + 60_000) }));
      await assert.rejects(storage.stat(name));
      await assert.rejects(storage.remove(name));
    }
    assert.deepEqual(gcs.requests, []);
  });
});

Deno.test("if-generation-match 0 means no live object: after a deletion the URL creates again", async () => {
  await withStorage(async (gcs, storage) => {
    const now = new Date();
    const upload = await storage.signUpload(NAME, { contentType: "video/mp4", sizeBytes: 2, now });
    assert.deepEqual(await status(put(upload.url, upload.headers, new Uint8Array([1, 2]))), [
      200,
      "",
    ]);
    assert.deepEqual(await status(put(upload.url, upload.headers, new Uint8Array([3, 4]))), [
      412,
      "PreconditionFailed",
    ]);
    assert.equal(await storage.remove(NAME), true);
    // As in GCS: the condition is about the live object, so within the URL's 15 minutes a
    // deleted upload can be written again (the bucket's lifecycle rule removes such orphans).
    assert.deepEqual(await status(put(upload.url, upload.headers, new Uint8Array([5, 6]))), [
      200,
      "",
    ]);
    assert.deepEqual(gcs.objects.get(NAME)?.data, new Uint8Array([5, 6]));
  });
});
