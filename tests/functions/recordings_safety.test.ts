/**
 * The attacks of issue 16 on uploads and recordings, tried over HTTP through the local server
 * (GCS played by the loopback double), each refused: unbounded uploads, a guardian deleting
 * what is the family's to delete, a recording link hammered, and an egress report whose object
 * path climbs into another streamer's files. Fixture rows are written before the first request
 * (on PGlite the server then holds the only connection).
 */
import assert from "node:assert/strict";
import {
  DEMO_RECORDING,
  DEMO_SESSION,
  GUARDIAN_A_ROW,
  GUARDIAN_USER,
  STREAMER_A,
  STREAMER_B,
} from "../../dev/seed_ids.ts";
import { createLinkSigner } from "../../shared/kernel/link.ts";
import { apiClient, assertError } from "../support/api.ts";
import { type GcsDouble, startGcsDouble } from "../support/gcs_double.ts";
import { startServer, type TestServer } from "../support/stack.ts";
import { userToken } from "../support/tokens.ts";
import { signEvent } from "../support/webhook_events.ts";

const SESSION_B = "b0000000-0000-4000-8000-00000000000b";
const VIEWER_USER = "c0000000-0000-4000-8000-00000000000c";
const VIEWER_ROW = "c1000000-0000-4000-8000-00000000000c";
const DEMO_OBJECT = `uploads/${STREAMER_A}/${DEMO_SESSION}/${DEMO_RECORDING}.mp4`;
const MIB = 1024 * 1024;

interface Harness {
  server: TestServer;
  gcs: GcsDouble;
  api: ReturnType<typeof apiClient>;
  token(userId: string): Promise<string>;
  stop(): Promise<void>;
}

async function harness(
  env: Record<string, string> = {},
  fixtures?: (server: TestServer) => Promise<void>,
): Promise<Harness> {
  const gcs = await startGcsDouble();
  const server = await startServer({ env: { ...gcs.env, ...env } });
  try {
    await server.sql`
      insert into public.stream_sessions
        (id, streamer_id, title, status, end_reason, room_name, record, created_at, started_at,
         ended_at, updated_at)
      values (${SESSION_B}, ${STREAMER_B}, 'B plays', 'ended', 'streamer_ended',
              ${`session-${SESSION_B}`}, false, now(), now(), now(), now())`;
    await fixtures?.(server);
  } catch (error) {
    await server.stop();
    await gcs.close();
    throw error;
  }
  gcs.put(DEMO_OBJECT, new Uint8Array([1, 2, 3]));
  return {
    server,
    gcs,
    api: apiClient(server.url),
    token: (userId) => userToken(server.env.SUPABASE_JWT_SECRET, userId),
    async stop() {
      await server.stop();
      await gcs.close();
    },
  };
}

function signBody(sessionId: string, sizeBytes: number) {
  return { sessionId, contentType: "video/mp4", sizeBytes };
}

function retryAfter(response: { headers: Headers }): number {
  return Number(response.headers.get("retry-after"));
}

Deno.test("uploads are bounded: 5 GiB of signed size per streamer per day by default", async () => {
  const h = await harness();
  try {
    const a = await h.token(STREAMER_A);
    for (let i = 0; i < 10; i++) {
      const signed = await h.api.post("sign-upload-url", signBody(DEMO_SESSION, 500 * MIB), {
        token: a,
      });
      assert.equal(signed.status, 201, `upload ${i + 1}: ${JSON.stringify(signed.body)}`);
    }
    // 5000 MiB signed; 500 more would pass 5 GiB (5120 MiB).
    const over = await h.api.post("sign-upload-url", signBody(DEMO_SESSION, 500 * MIB), {
      token: a,
    });
    assertError(over, 429, "rate_limited");
    assert.ok(
      retryAfter(over) > 86_000 && retryAfter(over) <= 86_400,
      `Retry-After ${retryAfter(over)}: when the first upload leaves the 24 hours`,
    );
    // What still fits is signed; another streamer's quota is their own.
    const small = await h.api.post("sign-upload-url", signBody(DEMO_SESSION, 100 * MIB), {
      token: a,
    });
    assert.equal(small.status, 201);
    const b = await h.api.post("sign-upload-url", signBody(SESSION_B, 500 * MIB), {
      token: await h.token(STREAMER_B),
    });
    assert.equal(b.status, 201);
  } finally {
    await h.stop();
  }
});

Deno.test("the quota is a rolling 24 hours, and concurrent signs cannot overshoot it", async (t) => {
  const earlier = crypto.randomUUID();
  const h = await harness({ UPLOAD_QUOTA_BYTES_PER_DAY: "1000" }, async (server) => {
    // 600 bytes signed 23 hours ago: they leave the window in an hour.
    await server.sql`
      insert into public.recordings
        (id, session_id, streamer_id, source, status, object_path, content_type,
         expected_size_bytes, created_at, updated_at)
      values (${earlier}, ${DEMO_SESSION}, ${STREAMER_A}, 'upload', 'failed',
              ${`uploads/${STREAMER_A}/${DEMO_SESSION}/${earlier}.mp4`}, 'video/mp4', 600,
              now() - interval '23 hours', now() - interval '23 hours')`;
  });
  try {
    const a = await h.token(STREAMER_A);
    await t.step("500 more is over: 429, Retry-After when the 600 leave", async () => {
      const over = await h.api.post("sign-upload-url", signBody(DEMO_SESSION, 500), { token: a });
      assertError(over, 429, "rate_limited");
      assert.ok(
        retryAfter(over) > 3_500 && retryAfter(over) <= 3_600,
        `Retry-After ${retryAfter(over)}`,
      );
    });

    await t.step("five concurrent signs of 100 bytes: exactly four fit", async () => {
      const answers = await Promise.all(
        Array.from(
          { length: 5 },
          () => h.api.post("sign-upload-url", signBody(DEMO_SESSION, 100), { token: a }),
        ),
      );
      const statuses = answers.map((answer) => answer.status).sort();
      assert.deepEqual(statuses, [201, 201, 201, 201, 429]);
      const refused = answers.find((answer) => answer.status === 429)!;
      assertError(refused, 429, "rate_limited");
      assert.ok(retryAfter(refused) >= 1);
    });
  } finally {
    await h.stop();
  }
});

Deno.test("deleting is the family's: the streamer and the primary guardian, not a viewer", async (t) => {
  const h = await harness({}, async (server) => {
    await server.sql`
      insert into auth.users (id, aud, role, email, email_confirmed_at)
      values (${VIEWER_USER}, 'authenticated', 'authenticated', 'aunt@example.test', now())`;
    await server.sql`
      insert into public.guardians
        (id, streamer_id, email, name, role, status, user_id, confirmed_at)
      values (${VIEWER_ROW}, ${STREAMER_A}, 'aunt@example.test', 'Aunt', 'viewer', 'active',
              ${VIEWER_USER}, now())`;
  });
  try {
    const viewer = await h.token(VIEWER_USER);
    const stranger = await h.token(STREAMER_B);
    const body = { recordingId: DEMO_RECORDING };

    await t.step("a viewer guardian who can play it gets 403, and the object stays", async () => {
      const url = await h.api.get(`recording-url?recordingId=${DEMO_RECORDING}`, {
        token: viewer,
      });
      assert.equal(url.status, 200, "the viewer may watch and play");
      assertError(
        await h.api.post("delete-recording", body, { token: viewer }),
        403,
        "forbidden",
      );
      assertError(
        await h.api.post("delete-recording", body, { token: stranger }),
        404,
        "not_found",
      );
      assert.ok(h.gcs.objects.has(DEMO_OBJECT));
      const played = await h.api.get(`recording-url?recordingId=${DEMO_RECORDING}`, {
        token: await h.token(STREAMER_A),
      });
      assert.equal(played.body.recording.status, "ready");
    });

    await t.step("the primary guardian deletes it: gone from the bucket", async () => {
      const deleted = await h.api.post("delete-recording", body, {
        token: await h.token(GUARDIAN_USER),
      });
      assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
      assert.equal(deleted.body.recording.status, "deleted");
      assert.equal(h.gcs.objects.has(DEMO_OBJECT), false);
      // Deleted stays deleted for everyone; the viewer still may not act on it.
      assertError(
        await h.api.post("delete-recording", body, { token: viewer }),
        403,
        "forbidden",
      );
    });
  } finally {
    await h.stop();
  }
});

Deno.test("a recording link is limited to 30 a minute; other links and accounts are not", async () => {
  const h = await harness();
  try {
    const links = createLinkSigner(h.server.env.LINK_SIGNING_SECRET);
    const link = await links.sign({
      type: "recording",
      guardianId: GUARDIAN_A_ROW,
      objectId: DEMO_RECORDING,
    });
    const byLink = (token: string) =>
      h.api.get("recording-url", { headers: { "x-link-token": token } });
    for (let i = 0; i < 30; i++) {
      const answer = await byLink(link);
      assert.equal(answer.status, 200, `request ${i + 1}: ${JSON.stringify(answer.body)}`);
    }
    const limited = await byLink(link);
    assertError(limited, 429, "rate_limited");
    assert.ok(retryAfter(limited) >= 1 && retryAfter(limited) <= 60);
    // The same link as ?link= is the same link.
    assertError(
      await h.api.get(`recording-url?link=${encodeURIComponent(link)}`),
      429,
      "rate_limited",
    );
    // The guardian's account door counts on its own.
    const byAccount = await h.api.get(`recording-url?recordingId=${DEMO_RECORDING}`, {
      token: await h.token(GUARDIAN_USER),
    });
    assert.equal(byAccount.status, 200);
  } finally {
    await h.stop();
  }
});

Deno.test("an egress report whose path climbs out of its prefix is acknowledged, its path not taken", async () => {
  const sessionId = crypto.randomUUID();
  const room = `session-${sessionId}`;
  const h = await harness({}, async (server) => {
    // A live recorded session of A: its trigger adds the pending egress recording.
    await server.sql`
      insert into public.stream_sessions
        (id, streamer_id, status, room_name, record, created_at, started_at, updated_at)
      values (${sessionId}, ${STREAMER_A}, 'live', ${room}, true, now(), now(), now())`;
  });
  try {
    const escape =
      `recordings/${STREAMER_A}/${sessionId}/../../../recordings/${STREAMER_B}/${SESSION_B}/x.mp4`;
    const now = BigInt(Date.now()) * 1_000_000n;
    const event = {
      id: "EV_dot_segments",
      event: "egress_ended",
      createdAt: String(Math.floor(Date.now() / 1000)),
      egressInfo: {
        egressId: "EG_dot_segments",
        roomName: room,
        status: "EGRESS_COMPLETE",
        startedAt: String(now - 60_000_000_000n),
        endedAt: String(now),
        fileResults: [{
          filename: escape,
          size: "1000",
          duration: "60000000000",
          location: `https://storage.googleapis.com/${h.gcs.bucket}/${escape}`,
        }],
      },
    };
    const { body, authorization } = await signEvent(
      event,
      h.server.env.LIVEKIT_API_KEY,
      h.server.env.LIVEKIT_API_SECRET,
    );
    const response = await fetch(`${h.server.url}/functions/v1/livekit-webhook`, {
      method: "POST",
      headers: { "content-type": "application/webhook+json", authorization },
      body,
    });
    assert.equal(response.status, 200, await response.clone().text());
    assert.deepEqual(await response.json(), { ok: true });

    // The recording is ready but has no object of its own: nothing to sign, least of all B's.
    h.gcs.put(`recordings/${STREAMER_B}/${SESSION_B}/x.mp4`, new Uint8Array([6, 6, 6]));
    const a = await h.token(STREAMER_A);
    const detail = await h.api.get(`streams?sessionId=${sessionId}`, { token: a });
    assert.equal(detail.status, 200, JSON.stringify(detail.body));
    const [recording] = detail.body.recordings;
    assert.equal(recording.status, "ready");
    assertError(
      await h.api.get(`recording-url?recordingId=${recording.id}`, { token: a }),
      409,
      "recording_not_ready",
    );
  } finally {
    await h.stop();
  }
});
