/**
 * The local bucket of `deno task dev` and the end-to-end tier (`dev/local_bucket.ts`): egress's
 * JSON API uploads keep GCS's `ifGenerationMatch` precondition (`0`: only if absent), and what
 * it holds is read back through a signed URL in byte ranges, so players can seek.
 */
import assert from "node:assert/strict";
import { startLocalBucket } from "../../dev/local_bucket.ts";
import { storageEnv } from "../../shared/kernel/env.ts";
import { createObjectStorage } from "../../shared/storage.ts";

async function upload(url: string, name: string, data: string, query = "") {
  const boundary = "local-bucket-test";
  const body = [
    `--${boundary}\r\ncontent-type: application/json\r\n\r\n`,
    JSON.stringify({ name, contentType: "video/mp4" }),
    `\r\n--${boundary}\r\ncontent-type: video/mp4\r\n\r\n${data}\r\n--${boundary}--\r\n`,
  ].join("");
  const response = await fetch(`${url}?uploadType=multipart${query}`, {
    method: "POST",
    headers: { "content-type": `multipart/related; boundary=${boundary}` },
    body,
  });
  return { status: response.status, body: await response.json() };
}

async function resumable(url: string, name: string, query = "") {
  const response = await fetch(`${url}?uploadType=resumable${query}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name, contentType: "video/mp4" }),
  });
  await response.body?.cancel();
  return { status: response.status, location: response.headers.get("location") };
}

Deno.test("the local bucket keeps ifGenerationMatch=0 on egress uploads, as GCS does", async () => {
  const bucket = await startLocalBucket();
  const url = `http://${bucket.emulatorHost}/upload/storage/v1/b/${bucket.double.bucket}/o`;
  try {
    const first = await upload(url, "recordings/a/b/one.mp4", "first", "&ifGenerationMatch=0");
    assert.equal(first.status, 200);
    const again = await upload(url, "recordings/a/b/one.mp4", "second", "&ifGenerationMatch=0");
    assert.equal(again.status, 412);
    assert.equal(again.body.error.errors[0].reason, "conditionNotMet");
    assert.equal(
      new TextDecoder().decode(bucket.double.objects.get("recordings/a/b/one.mp4")!.data),
      "first",
      "the object was not overwritten",
    );
    const matching = await upload(
      url,
      "recordings/a/b/one.mp4",
      "third",
      `&ifGenerationMatch=${first.body.generation}`,
    );
    assert.equal(matching.status, 200, "the live generation is a precondition that holds");

    // A resumable upload is refused when it starts, and again when another write lands first.
    assert.equal(
      (await resumable(url, "recordings/a/b/one.mp4", "&ifGenerationMatch=0")).status,
      412,
    );
    const started = await resumable(url, "recordings/a/b/two.mp4", "&ifGenerationMatch=0");
    assert.equal(started.status, 200);
    await upload(url, "recordings/a/b/two.mp4", "raced");
    const finished = await fetch(started.location!, {
      method: "PUT",
      headers: { "content-range": "bytes 0-3/4" },
      body: "late",
    });
    await finished.body?.cancel();
    assert.equal(finished.status, 412);
  } finally {
    await bucket.stop();
  }
});

Deno.test("what the local bucket holds is served in byte ranges through a signed URL", async () => {
  const bucket = await startLocalBucket();
  try {
    const data = new Uint8Array(1000).map((_, i) => i % 251);
    bucket.double.put("recordings/a/b/seek.mp4", data, "video/mp4");
    const storage = createObjectStorage(storageEnv.parse(bucket.env)!);
    const now = new Date();
    const signed = await storage.signDownload("recordings/a/b/seek.mp4", {
      now,
      expiresAt: new Date(now.getTime() + 60_000),
    });
    const part = await fetch(signed.url, { headers: { range: "bytes=100-199" } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get("content-range"), "bytes 100-199/1000");
    assert.equal(part.headers.get("accept-ranges"), "bytes");
    assert.deepEqual(new Uint8Array(await part.arrayBuffer()), data.slice(100, 200));
    const whole = await fetch(signed.url);
    assert.equal(whole.status, 200);
    assert.equal(whole.headers.get("accept-ranges"), "bytes");
    assert.equal((await whole.arrayBuffer()).byteLength, 1000);
    const beyond = await fetch(signed.url, { headers: { range: "bytes=5000-" } });
    await beyond.body?.cancel();
    assert.equal(beyond.status, 416);
  } finally {
    await bucket.stop();
  }
});
