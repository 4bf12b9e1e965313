/**
 * livekit-webhook and egress requests as an attacker (or a careless configuration) meets them:
 * key material that LiveKit echoes in egress events never reaches the ledger or the logs, a
 * signed event with a field too large for the database is 400 (never a 500), and egress
 * requests carry no credentials unless EGRESS_STORAGE=request says LiveKit has no storage.
 */
import assert from "node:assert/strict";
import {
  EgressInfo,
  EgressStatus,
  EncodedFileOutput,
  GCPUpload,
  ParticipantEgressRequest,
  S3Upload,
} from "livekit-server-sdk";
import { STREAMER_A, STREAMER_B } from "../../dev/seed_ids.ts";
import { apiClient, assertError } from "../support/api.ts";
import { startLiveKitDouble } from "../support/livekit_double.ts";
import { makeServiceAccount } from "../support/service_account.ts";
import { startServer } from "../support/stack.ts";
import { userToken } from "../support/tokens.ts";
import { signEvent } from "../support/webhook_events.ts";

async function post(url: string, delivery: { body: string; authorization: string }) {
  const response = await fetch(`${url}/functions/v1/livekit-webhook`, {
    method: "POST",
    headers: {
      "content-type": "application/webhook+json",
      authorization: delivery.authorization,
    },
    body: delivery.body,
  });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

Deno.test("livekit-webhook keeps no key material and refuses oversized fields", async (t) => {
  const account = await makeServiceAccount();
  const livekit = startLiveKitDouble();
  const server = await startServer({
    env: { ...livekit.env, GCS_BUCKET: "recordings-bucket", GCS_CREDENTIALS: account.json },
  });
  const api = apiClient(server.url);
  const token = await userToken(server.env.SUPABASE_JWT_SECRET, STREAMER_A);
  try {
    const { session } = (await api.post("start-session", {}, { token })).body;

    await t.step("an egress event echoing credentials is stored without them", async () => {
      // As LiveKit echoes an egress request in egress_* events, storage secrets included.
      const info = new EgressInfo({
        egressId: "EG_echo_1",
        roomName: session.roomName,
        status: EgressStatus.EGRESS_ACTIVE,
        startedAt: BigInt(Date.now()) * 1_000_000n,
        request: {
          case: "participant",
          value: new ParticipantEgressRequest({
            roomName: session.roomName,
            identity: `streamer:${STREAMER_A}`,
            fileOutputs: [
              new EncodedFileOutput({
                filepath: `recordings/${STREAMER_A}/${session.id}/{time}.mp4`,
                output: {
                  case: "gcp",
                  value: new GCPUpload({ bucket: "recordings-bucket", credentials: account.json }),
                },
              }),
              new EncodedFileOutput({
                filepath: `recordings/${STREAMER_A}/${session.id}/{time}-copy.mp4`,
                output: {
                  case: "s3",
                  value: new S3Upload({
                    accessKey: "AKIAEXAMPLEEXAMPLE00",
                    secret: "s3-secret-that-must-not-be-kept",
                    sessionToken: "s3-session-token-that-must-not-be-kept",
                    bucket: "other-bucket",
                  }),
                },
              }),
            ],
          }),
        },
      });
      const event = {
        id: "EV_echo_1",
        event: "egress_started",
        createdAt: String(Math.floor(Date.now() / 1000)),
        egressInfo: info.toJson(),
      };
      const delivery = await signEvent(event, livekit.apiKey, livekit.apiSecret);
      assert.ok(delivery.body.includes("PRIVATE KEY"), "the event does carry the key");
      const response = await post(server.url, delivery);
      assert.equal(response.status, 200, JSON.stringify(response.body));

      const [row] = await server.sql<{ payload: string }[]>`
        select payload::text as payload from webhook_events where id = ${event.id}`;
      assert.ok(row, "the event is in the ledger");
      for (
        const secret of [
          "PRIVATE KEY",
          account.clientEmail,
          "AKIAEXAMPLEEXAMPLE00",
          "s3-secret-that-must-not-be-kept",
          "s3-session-token-that-must-not-be-kept",
        ]
      ) {
        assert.ok(!row.payload.includes(secret), `the ledger keeps ${secret}`);
      }
      const stored = JSON.parse(row.payload);
      assert.equal(stored.egressInfo.egressId, "EG_echo_1");
      assert.equal(
        stored.egressInfo.participant.fileOutputs[0].gcp.bucket,
        "recordings-bucket",
        "what is not secret stays",
      );
      assert.equal(stored.egressInfo.participant.fileOutputs[0].gcp.credentials, undefined);
      const { stdout, stderr } = server.output();
      assert.ok(!`${stdout}${stderr}`.includes("PRIVATE KEY"), "a log line holds the key");
    });

    await t.step(
      "a signed event with a room name over 8 KB is 400 and writes nothing",
      async () => {
        const event = {
          id: "EV_huge_room_1",
          event: "participant_joined",
          createdAt: String(Math.floor(Date.now() / 1000)),
          room: { name: "r".repeat(9000), sid: "RM_huge" },
          participant: { sid: "PA_huge", identity: `streamer:${STREAMER_A}` },
        };
        const delivery = await signEvent(event, livekit.apiKey, livekit.apiSecret);
        const error = assertError(await post(server.url, delivery), 400, "invalid_request");
        assert.deepEqual(error.details.map((detail: { path: string }) => detail.path), [
          "room.name",
        ]);
        const rows = await server.sql`select 1 from webhook_events where id = ${event.id}`;
        assert.equal(rows.length, 0);
      },
    );

    await t.step("oversized identities, event ids and file names are 400 too", async () => {
      const base = {
        event: "participant_joined",
        createdAt: String(Math.floor(Date.now() / 1000)),
        room: { name: session.roomName, sid: "RM_1" },
      };
      const cases = [
        { ...base, id: "x".repeat(300), participant: { sid: "PA_1", identity: "viewer" } },
        {
          ...base,
          id: "EV_huge_identity",
          participant: { sid: "PA_2", identity: "i".repeat(3000) },
        },
        {
          id: "EV_huge_file",
          event: "egress_ended",
          createdAt: base.createdAt,
          egressInfo: {
            egressId: "EG_huge_file",
            roomName: session.roomName,
            status: "EGRESS_COMPLETE",
            fileResults: [{ filename: `recordings/${"f".repeat(3000)}.mp4` }],
          },
        },
      ];
      for (const event of cases) {
        const delivery = await signEvent(event, livekit.apiKey, livekit.apiSecret);
        assertError(await post(server.url, delivery), 400, "invalid_request");
      }
    });
  } finally {
    await server.stop();
    await livekit.close();
  }
});

Deno.test("egress requests carry no credentials unless EGRESS_STORAGE=request", async (t) => {
  const account = await makeServiceAccount();
  for (const storage of ["default", "livekit", "request"] as const) {
    await t.step(`EGRESS_STORAGE ${storage}`, async () => {
      const livekit = startLiveKitDouble();
      const server = await startServer({
        env: {
          ...livekit.env,
          GCS_BUCKET: "recordings-bucket",
          GCS_CREDENTIALS: account.json,
          ...(storage === "default" ? {} : { EGRESS_STORAGE: storage }),
        },
      });
      try {
        const token = await userToken(server.env.SUPABASE_JWT_SECRET, STREAMER_B);
        const started = await apiClient(server.url).post("start-session", {}, { token });
        assert.equal(started.status, 201, JSON.stringify(started.body));
        const [create] = livekit.calls.filter((call) => call.method === "CreateRoom");
        const request = JSON.stringify(create.body);
        // deno-lint-ignore no-explicit-any
        const [file] = (create.body.egress as any).participant.fileOutputs;
        assert.ok(
          file.filepath.startsWith(`recordings/${STREAMER_B}/${started.body.session.id}/`),
        );
        if (storage === "request") {
          assert.equal(file.gcp.bucket, "recordings-bucket");
          assert.ok(request.includes("PRIVATE KEY"));
        } else {
          assert.equal(file.gcp, undefined);
          assert.ok(!request.includes("PRIVATE KEY"), "credentials in the egress request");
          assert.ok(!request.includes(account.clientEmail), "credentials in the egress request");
        }
      } finally {
        await server.stop();
        await livekit.close();
      }
    });
  }
});

Deno.test("a bad EGRESS_STORAGE stops the server at boot, naming it", async () => {
  await assert.rejects(
    startServer({ env: { EGRESS_STORAGE: "bucket" } }),
    (error: Error) => error.message.includes("EGRESS_STORAGE"),
  );
});
