/**
 * reconcile's upload sweep, through the real handler wired as its `index.ts` wires it
 * (`applyRecordingRetention` with the bucket), on an injected clock, with LiveKit and GCS
 * played by their doubles: an upload not completed within 24 hours loses its object and its
 * row, reported in `recordingsExpired`; a younger one, and completed ones, stay.
 */
import assert from "node:assert/strict";
import { createTokenVerifier } from "../../shared/kernel/auth.ts";
import { fixedClock } from "../../shared/kernel/clock.ts";
import { closeAllDatabases, getDatabase } from "../../shared/kernel/db.ts";
import { storageEnv } from "../../shared/kernel/env.ts";
import { applyRecordingRetention } from "../../shared/recording_retention.ts";
import { createObjectStorage } from "../../shared/storage.ts";
import { createReconcileHandler } from "../../supabase/functions/reconcile/handler.ts";
import { freshDatabase } from "../support/database.ts";
import { startGcsDouble } from "../support/gcs_double.ts";
import { startLiveKitDouble } from "../support/livekit_double.ts";
import { serviceToken, TEST_SUPABASE_URL } from "../support/tokens.ts";

const SECRET = "reconcile-uploads-jwt-secret-of-32-chars";
const NOW = new Date("2026-11-22T12:00:00Z");
const hoursAgo = (hours: number) => new Date(NOW.getTime() - hours * 3_600_000);

Deno.test("reconcile removes uploads not completed within 24 hours, object and row", async () => {
  const fresh = await freshDatabase({ seed: false });
  await fresh.sql.end();
  const livekit = startLiveKitDouble();
  const gcs = await startGcsDouble();
  const db = getDatabase(fresh.url, { max: 1 });
  const storage = createObjectStorage(storageEnv.parse(gcs.env)!, { timeoutMs: 1000 });
  const clock = fixedClock(NOW);
  const handler = createReconcileHandler({
    db,
    verifier: createTokenVerifier({
      supabaseUrl: TEST_SUPABASE_URL,
      jwtSecret: SECRET,
      remoteJwks: false,
    }),
    livekit: {
      url: livekit.url,
      httpUrl: livekit.url,
      apiKey: livekit.apiKey,
      apiSecret: livekit.apiSecret,
      timeoutSeconds: 2,
    },
    retention: (now) => applyRecordingRetention({ db, storage, now, retentionDays: 90 }),
    bucket: gcs.bucket,
    cors: { allowedOrigins: [] },
    clock,
    logSink: () => {},
  });
  const run = async () => {
    const response = await handler(
      new Request("http://127.0.0.1/functions/v1/reconcile", {
        method: "POST",
        headers: { authorization: `Bearer ${await serviceToken(SECRET)}` },
        body: "{}",
      }),
    );
    return { status: response.status, body: await response.json() };
  };

  try {
    const streamer = crypto.randomUUID();
    const session = crypto.randomUUID();
    await db.sql`insert into auth.users (id, email) values (${streamer}, 'uploader@example.test')`;
    await db.sql`
      insert into public.stream_sessions
        (id, streamer_id, room_name, record, status, created_at, started_at, ended_at,
         end_reason)
      values (${session}, ${streamer}, ${`session-${session}`}, false, 'ended', ${hoursAgo(30)},
              ${hoursAgo(30)}, ${hoursAgo(29)}, 'streamer_ended')`;
    const upload = async (status: "uploading" | "ready", ageHours: number, put = true) => {
      const id = crypto.randomUUID();
      const path = `uploads/${streamer}/${session}/${id}.mp4`;
      await db.sql`
        insert into public.recordings
          (id, session_id, streamer_id, source, status, object_path, content_type,
           expected_size_bytes, size_bytes, ready_at, created_at, updated_at)
        values (${id}, ${session}, ${streamer}, 'upload', ${status}, ${path}, 'video/mp4', 3,
                ${status === "ready" ? 3 : null}, ${status === "ready" ? hoursAgo(ageHours) : null},
                ${hoursAgo(ageHours)}, ${hoursAgo(ageHours)})`;
      if (put) gcs.put(path, new Uint8Array([1, 2, 3]));
      return { id, path };
    };
    const abandoned = await upload("uploading", 25);
    const neverPut = await upload("uploading", 48, false);
    const young = await upload("uploading", 23);
    const completed = await upload("ready", 26);

    const first = await run();
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.deepEqual(first.body, {
      sessionsEnded: 0,
      sessionsAbandoned: 0,
      recordingsUpdated: 0,
      recordingsExpired: 2,
    });
    const rows = await db.sql<{ id: string; status: string }[]>`
      select id, status from public.recordings order by created_at`;
    assert.deepEqual(rows.map((row) => [row.id, row.status]), [
      [completed.id, "ready"],
      [young.id, "uploading"],
    ]);
    assert.equal(gcs.objects.has(abandoned.path), false, "the abandoned upload's bytes are gone");
    assert.equal(gcs.objects.has(neverPut.path), false);
    assert.ok(gcs.objects.has(young.path));
    assert.ok(gcs.objects.has(completed.path));

    // An hour later the young one has had its day too.
    clock.advance(3601);
    assert.equal((await run()).body.recordingsExpired, 1);
    assert.equal(gcs.objects.has(young.path), false);
    const [{ count }] = await db.sql<{ count: number }[]>`
      select count(*)::int as count from public.recordings where id = ${young.id}`;
    assert.equal(count, 0);
  } finally {
    await closeAllDatabases();
    await livekit.close();
    await gcs.close();
    await fresh.close();
  }
});
