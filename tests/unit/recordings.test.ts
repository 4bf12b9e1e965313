/** What `shared/recordings.ts` decides alone: object names, file names, what may be deleted. */
import assert from "node:assert/strict";
import { readEgress } from "../../shared/egress.ts";
import { isSafeObjectPath } from "../../shared/object_paths.ts";
import {
  isInProgress,
  recordingContentDisposition,
  type RecordingDetail,
  uploadObjectName,
} from "../../shared/recordings.ts";

function recording(overrides: Partial<RecordingDetail>): RecordingDetail {
  return {
    id: "99999999-9999-4999-8999-999999999999",
    session_id: "88888888-8888-4888-8888-888888888888",
    streamer_id: "11111111-1111-4111-8111-111111111111",
    source: "upload",
    status: "ready",
    content_type: "video/mp4",
    size_bytes: "3",
    expected_size_bytes: "3",
    duration_seconds: null,
    created_at: new Date("2026-01-06T09:00:00Z"),
    ready_at: new Date("2026-01-06T09:01:00Z"),
    error: null,
    object_path: "uploads/x.mp4",
    session_title: "First stream",
    session_started_at: new Date("2026-01-05T18:00:05Z"),
    ...overrides,
  };
}

Deno.test("uploads are named by the server from ids only", () => {
  assert.equal(
    uploadObjectName({ streamerId: "s", sessionId: "t", recordingId: "r" }, "webm"),
    "uploads/s/t/r.webm",
  );
});

Deno.test("object paths with a . or .. segment are not safe, and never become upload names", () => {
  for (const path of ["uploads/s/t/r.mp4", "recordings/a/s/1.mp4", "a/..b/c", "a/b../c.mp4"]) {
    assert.ok(isSafeObjectPath(path), path);
  }
  for (
    const path of [
      "",
      ".",
      "..",
      "recordings/A/S/../../../recordings/B/S/x.mp4",
      "recordings/A/S/./x.mp4",
      "../x.mp4",
      "recordings/A/S/..",
    ]
  ) {
    assert.equal(isSafeObjectPath(path), false, path);
  }
  assert.throws(() =>
    uploadObjectName({ streamerId: "s", sessionId: "..", recordingId: "r" }, "mp4")
  );
});

Deno.test("an egress report's path with a dot segment is not taken, whatever form it comes in", () => {
  const prefix = "recordings/aaaa/ssss/";
  const escape = `${prefix}../../../recordings/bbbb/tttt/x.mp4`;
  const report = (file: Record<string, string>) =>
    readEgress({ egressId: "EG_1", status: "EGRESS_COMPLETE", fileResults: [file] }, {
      bucket: "bkt",
    });
  assert.equal(report({ filename: `${prefix}1.mp4` }).objectPath, `${prefix}1.mp4`);
  assert.equal(report({ filename: escape }).objectPath, null);
  assert.equal(report({ filename: `${prefix}./1.mp4` }).objectPath, null);
  assert.equal(report({ location: `gs://bkt/${escape}` }).objectPath, null);
  assert.equal(
    report({ location: `https://storage.googleapis.com/bkt/${prefix}%2E%2E/x.mp4` }).objectPath,
    null,
  );
  // The rest of the report still counts: the recording is ready, only its path is ignored.
  assert.equal(report({ filename: escape }).status, "ready");
});

Deno.test("a download is named after the session's title and day", () => {
  assert.equal(
    recordingContentDisposition(recording({})),
    'inline; filename="First stream 2026-01-05.mp4"',
  );
  assert.equal(
    recordingContentDisposition(
      recording({ session_title: null, session_started_at: null, content_type: "video/webm" }),
    ),
    'inline; filename="Recording 2026-01-06.webm"',
    "untitled and never live: the recording's own day",
  );
});

Deno.test("titles that need more than ASCII get an RFC 6266 filename* too", () => {
  assert.equal(
    recordingContentDisposition(recording({ session_title: "Café ☆ night" })),
    `inline; filename="Cafe night 2026-01-05.mp4"; filename*=UTF-8''Caf%C3%A9%20%E2%98%86%20night%202026-01-05.mp4`,
  );
  assert.equal(
    recordingContentDisposition(recording({ session_title: "☆☆☆" })),
    `inline; filename="Recording 2026-01-05.mp4"; filename*=UTF-8''%E2%98%86%E2%98%86%E2%98%86%202026-01-05.mp4`,
  );
});

Deno.test("quotes, slashes and control characters never reach the header", () => {
  const header = recordingContentDisposition(
    recording({ session_title: "a\"b\\c/d\r\nContent-Type: text/html; x='y'" }),
  );
  assert.doesNotMatch(header, /[\r\n]/);
  const ascii = /filename="([^"]*)"/.exec(header)![1];
  assert.match(ascii, /^[A-Za-z0-9 ._-]+$/);
  const full = /filename\*=UTF-8''(.*)$/.exec(header)![1];
  assert.match(full, /^[A-Za-z0-9%._~-]+$/);
  assert.ok(!decodeURIComponent(full).includes("/"));
});

Deno.test("only egress recordings LiveKit may still write count as in progress", () => {
  for (const status of ["pending", "recording", "processing"]) {
    assert.equal(isInProgress({ source: "egress", status }), true);
  }
  for (const status of ["ready", "failed", "deleted"]) {
    assert.equal(isInProgress({ source: "egress", status }), false);
  }
  assert.equal(isInProgress({ source: "upload", status: "uploading" }), false);
});
