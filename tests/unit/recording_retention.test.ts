/**
 * Recording retention (`applyRecordingRetention`) and the emails a completed upload queues,
 * run in process against a fresh database (PGlite, or Postgres with `TEST_DATABASE_URL`) and
 * the GCS double. Setup and checks go through the same pool the code under test uses, so
 * PGlite's single connection is never contended.
 */
import assert from "node:assert/strict";
import { DEMO_SESSION, GUARDIAN_A_ROW, GUARDIAN_USER, STREAMER_A } from "../../dev/seed_ids.ts";
import { createTokenVerifier } from "../../shared/kernel/auth.ts";
import { fixedClock } from "../../shared/kernel/clock.ts";
import { type Database, getDatabase } from "../../shared/kernel/db.ts";
import { storageEnv } from "../../shared/kernel/env.ts";
import { createLogger } from "../../shared/kernel/log.ts";
import { applyRecordingRetention, UPLOAD_EXPIRED_ERROR } from "../../shared/recording_retention.ts";
import { createObjectStorage, type ObjectStorage } from "../../shared/storage.ts";
import { createCompleteUploadHandler } from "../../supabase/functions/complete-upload/handler.ts";
import { createSignUploadUrlHandler } from "../../supabase/functions/sign-upload-url/handler.ts";
import { freshDatabase } from "../support/database.ts";
import { type GcsDouble, startGcsDouble } from "../support/gcs_double.ts";
import { TEST_SUPABASE_URL, userToken } from "../support/tokens.ts";

const DAY = 24 * 3600 * 1000;
// The seed's demo recording (ready on 2026-01-05) is younger than any retention used here.
const NOW = new Date("2026-02-01T12:00:00Z");

interface Fixture {
  db: Database;
  gcs: GcsDouble;
  storage: ObjectStorage;
}

async function withFixture(test: (fixture: Fixture) => Promise<void>) {
  const fresh = await freshDatabase();
  const gcs = await startGcsDouble();
  const db = getDatabase(fresh.url, { max: 1 });
  try {
    const storage = createObjectStorage(storageEnv.parse(gcs.env)!, { timeoutMs: 500 });
    await test({ db, gcs, storage });
  } finally {
    await db.close();
    await fresh.close();
    await gcs.close();
  }
}

/** Adds a recording of streamer A's demo session, as the database's owner. */
async function addRecording(
  fixture: Fixture,
  recording: {
    source?: "upload" | "egress";
    status: string;
    ageDays: number;
    withObject?: boolean;
  },
): Promise<{ id: string; objectPath: string | null }> {
  const id = crypto.randomUUID();
  const source = recording.source ?? "upload";
  const created = new Date(NOW.getTime() - recording.ageDays * DAY);
  const objectPath = recording.withObject === false
    ? null
    : `${source === "upload" ? "uploads" : "recordings"}/${STREAMER_A}/${DEMO_SESSION}/${id}.mp4`;
  await fixture.db.sql`
    insert into public.recordings
      (id, session_id, streamer_id, source, status, egress_id, object_path, content_type,
       expected_size_bytes, size_bytes, created_at, updated_at, ready_at, deleted_at)
    values (${id}, ${DEMO_SESSION}, ${STREAMER_A}, ${source}, ${recording.status},
            ${source === "egress" ? `EG_${id}` : null}, ${objectPath}, 'video/mp4',
            ${source === "upload" ? 3 : null}, ${recording.status === "ready" ? 3 : null},
            ${created}, ${created}, ${recording.status === "ready" ? created : null},
            ${recording.status === "deleted" ? created : null})`;
  if (objectPath && recording.withObject !== false) {
    fixture.gcs.put(objectPath, new Uint8Array([1, 2, 3]));
  }
  return { id, objectPath };
}

/** The recording's status and error, or undefined when its row is gone. */
async function statusOf(db: Database, id: string) {
  const [row] = await db.sql<{ status: string; error: string | null }[]>`
    select status, error from public.recordings where id = ${id}`;
  return row ? { status: row.status, error: row.error } : undefined;
}

Deno.test("retention deletes old ready and failed recordings and removes abandoned uploads", async () => {
  await withFixture(async (fixture) => {
    const { db, gcs, storage } = fixture;
    const oldReady = await addRecording(fixture, { status: "ready", ageDays: 91 });
    const oldReadyEgress = await addRecording(fixture, {
      source: "egress",
      status: "ready",
      ageDays: 200,
    });
    const recentReady = await addRecording(fixture, { status: "ready", ageDays: 89 });
    const oldFailedEgress = await addRecording(fixture, {
      source: "egress",
      status: "failed",
      ageDays: 120,
      withObject: false,
    });
    const stuckEgress = await addRecording(fixture, {
      source: "egress",
      status: "recording",
      ageDays: 150,
    });
    // Uploads not completed within a day go, object and row, whether or not they were PUT,
    // and so do uploads an earlier version of the sweep only marked failed.
    const abandoned = await addRecording(fixture, { status: "uploading", ageDays: 1.5 });
    const neverPut = await addRecording(fixture, { status: "uploading", ageDays: 3 });
    gcs.objects.delete(neverPut.objectPath!);
    const failedUpload = await addRecording(fixture, { status: "failed", ageDays: 95 });
    const inFlight = await addRecording(fixture, { status: "uploading", ageDays: 0.5 });

    const result = await applyRecordingRetention({ db, storage, now: NOW, retentionDays: 90 });
    assert.deepEqual(result, { recordingsExpired: 3, uploadsRemoved: 3 });

    for (const gone of [oldReady, oldReadyEgress, oldFailedEgress]) {
      assert.equal((await statusOf(db, gone.id))?.status, "deleted");
      if (gone.objectPath) assert.equal(gcs.objects.has(gone.objectPath), false);
    }
    for (const removed of [abandoned, neverPut, failedUpload]) {
      assert.equal(await statusOf(db, removed.id), undefined, "the row is gone");
      assert.equal(gcs.objects.has(removed.objectPath!), false, "the object is gone");
    }
    assert.equal((await statusOf(db, recentReady.id))?.status, "ready");
    assert.ok(gcs.objects.has(recentReady.objectPath!));
    assert.equal((await statusOf(db, stuckEgress.id))?.status, "recording");
    assert.ok(gcs.objects.has(stuckEgress.objectPath!), "LiveKit may still be writing it");
    assert.equal((await statusOf(db, inFlight.id))?.status, "uploading");
    assert.ok(gcs.objects.has(inFlight.objectPath!));

    // A second run finds nothing more to do.
    assert.deepEqual(await applyRecordingRetention({ db, storage, now: NOW, retentionDays: 90 }), {
      recordingsExpired: 0,
      uploadsRemoved: 0,
    });
    // A shorter retention reaches the recent one.
    assert.deepEqual(await applyRecordingRetention({ db, storage, now: NOW, retentionDays: 30 }), {
      recordingsExpired: 1,
      uploadsRemoved: 0,
    });
    assert.equal(gcs.objects.has(recentReady.objectPath!), false);
  });
});

Deno.test("an abandoned upload whose object cannot be deleted yet fails, then goes next time", async () => {
  await withFixture(async (fixture) => {
    const { db, gcs, storage } = fixture;
    const abandoned = await addRecording(fixture, { status: "uploading", ageDays: 2 });
    gcs.mode = "fail";
    assert.deepEqual(await applyRecordingRetention({ db, storage, now: NOW, retentionDays: 90 }), {
      recordingsExpired: 0,
      uploadsRemoved: 0,
    });
    assert.deepEqual(await statusOf(db, abandoned.id), {
      status: "failed",
      error: UPLOAD_EXPIRED_ERROR,
    }, "no longer completable, and kept while its object stays");
    assert.ok(gcs.objects.has(abandoned.objectPath!));
    gcs.mode = "ok";
    assert.deepEqual(await applyRecordingRetention({ db, storage, now: NOW, retentionDays: 90 }), {
      recordingsExpired: 0,
      uploadsRemoved: 1,
    });
    assert.equal(await statusOf(db, abandoned.id), undefined);
    assert.equal(gcs.objects.has(abandoned.objectPath!), false);
  });
});

Deno.test("retention keeps a recording whose object cannot be deleted yet, and says so", async () => {
  await withFixture(async (fixture) => {
    const { db, gcs, storage } = fixture;
    const old = await addRecording(fixture, { status: "ready", ageDays: 100 });
    const noObject = await addRecording(fixture, {
      source: "egress",
      status: "failed",
      ageDays: 100,
      withObject: false,
    });
    const lines: Record<string, unknown>[] = [];
    const log = createLogger({}, (line) => lines.push(JSON.parse(line)));

    gcs.mode = "fail";
    const down = await applyRecordingRetention({
      db,
      storage,
      now: NOW,
      retentionDays: 90,
      log,
    });
    assert.deepEqual(down, { recordingsExpired: 1, uploadsRemoved: 0 });
    assert.equal(
      (await statusOf(db, old.id))?.status,
      "ready",
      "not deleted while its object stays",
    );
    assert.equal((await statusOf(db, noObject.id))?.status, "deleted");
    assert.equal(lines.length, 1);
    assert.equal(lines[0].level, "warn");
    assert.equal(lines[0].kept, 1);
    assert.ok(!JSON.stringify(lines).includes("PRIVATE KEY"));

    const unconfigured = await applyRecordingRetention({
      db,
      storage: undefined,
      now: NOW,
      retentionDays: 90,
    });
    assert.deepEqual(unconfigured, { recordingsExpired: 0, uploadsRemoved: 0 });

    gcs.mode = "ok";
    const back = await applyRecordingRetention({ db, storage, now: NOW, retentionDays: 90 });
    assert.deepEqual(back, { recordingsExpired: 1, uploadsRemoved: 0 });
    assert.equal((await statusOf(db, old.id))?.status, "deleted");
    assert.equal(gcs.objects.has(old.objectPath!), false);
  });
});

Deno.test("a completed upload queues one recording-ready email per guardian who wants it", async () => {
  await withFixture(async ({ db, gcs, storage }) => {
    const jwtSecret = "test-jwt-secret-with-at-least-32-characters";
    const verifier = createTokenVerifier({
      supabaseUrl: TEST_SUPABASE_URL,
      jwtSecret,
      remoteJwks: false,
    });
    const clock = fixedClock(new Date());
    const drains: string[] = [];
    const common = {
      db,
      verifier,
      storage,
      cors: { allowedOrigins: [] },
      clock,
      logSink: () => {},
    };
    const sign = createSignUploadUrlHandler({ ...common, quotaBytesPerDay: 5_368_709_120 });
    const complete = createCompleteUploadHandler({
      ...common,
      drain: {
        request: () => void drains.push("requested"),
        requestNow: () => Promise.reject(new Error("not used")),
      },
    });
    const token = await userToken(jwtSecret, STREAMER_A);
    const call = (fn: string, handler: typeof sign, body: unknown) =>
      handler(
        new Request(`http://localhost/functions/v1/${fn}`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
          body: JSON.stringify(body),
        }),
      );

    // A guardian who opted out of recording emails gets none.
    await db.sql`
      insert into public.guardians
        (streamer_id, email, name, status, user_id, notify_recording_ready, confirmed_at)
      values (${STREAMER_A}, 'quiet-parent@example.test', 'Quiet', 'active', null, false, now())`;

    const signed = await (await call("sign-upload-url", sign, {
      sessionId: DEMO_SESSION,
      contentType: "video/mp4",
      sizeBytes: 4,
    })).json();
    const put = await fetch(signed.upload.url, {
      method: "PUT",
      headers: signed.upload.headers,
      body: new Uint8Array([1, 2, 3, 4]),
    });
    assert.equal(put.status, 200);
    await put.body?.cancel();

    const outbox = async () => [
      ...await db.sql<{ guardian_id: string; kind: string; status: string }[]>`
        select guardian_id, kind, status from public.notification_outbox
         where recording_id = ${signed.recording.id}`,
    ];
    assert.deepEqual(await outbox(), [], "nothing is announced before the upload completes");

    const first = await call("complete-upload", complete, { recordingId: signed.recording.id });
    assert.equal(first.status, 200);
    assert.equal((await first.json()).recording.status, "ready");
    const again = await call("complete-upload", complete, { recordingId: signed.recording.id });
    assert.equal(again.status, 200);
    await again.body?.cancel();

    const rows = await outbox();
    assert.deepEqual(rows, [{
      guardian_id: GUARDIAN_A_ROW,
      kind: "recording_ready",
      status: "queued",
    }]);
    assert.deepEqual(drains, ["requested"], "one drain, for the call that made it ready");
    const [guardian] = await db.sql<{ user_id: string }[]>`
      select user_id from public.guardians where id = ${GUARDIAN_A_ROW}`;
    assert.equal(guardian.user_id, GUARDIAN_USER);
    assert.ok(gcs.tokensIssued >= 1);
  });
});
