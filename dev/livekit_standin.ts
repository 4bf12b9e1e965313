/**
 * The embedded LiveKit stand-in, for machines that cannot run `livekit-server` (no Go): it
 * answers the Twirp API the functions use as the real server does (the LiveKit contract suite,
 * `tests/livekit/`, runs against both) and posts signed webhooks for what happens in it.
 *
 * What it holds to, from the real server v1.13.5:
 * - a bearer token signed with the key pair; a missing grant is `401 unauthenticated` (not
 *   403), a bad token or wrong secret 401 too; `roomCreate` for CreateRoom/DeleteRoom,
 *   `roomList` for ListRooms, `roomAdmin` on the room for ListParticipants/RemoveParticipant,
 *   `roomRecord` for egress;
 * - CreateRoom is idempotent and fires `room_started` at once; DeleteRoom of an unknown room is
 *   `404 not_found`, and of a known one fires `participant_left` for each participant and
 *   `room_finished`; ListParticipants of an unknown room is `200` with no participants;
 *   RemoveParticipant of an unknown participant is `404 not_found`;
 * - webhooks are protojson that omit zero values, signed as a bare JWT whose `sha256` claim is
 *   the body's hash, retried up to 5 times over about 15 s on a 5xx or a broken connection;
 * - a room with auto egress and no egress service fails it after `egressFailureDelayMs` with
 *   `egress_ended` `EGRESS_FAILED` and an empty `egressId`;
 * - with an egress (`dev/standin_egress.ts`), auto egress starts on a participant's first
 *   publish in the room: once per connection, so again for an identity that left and joined
 *   again, or whose second connection replaced the first (the real server's `hasPublished`,
 *   which `Room.RemoveParticipant` forgets), and StartParticipantEgress in a room that exists starts one; each posts `egress_started`
 *   (STARTING, so no `status`), `egress_updated` (ACTIVE), its recorder joins as an `EGRESS`
 *   participant, and when its participant leaves, the room is deleted or StopEgress is called
 *   it posts `egress_updated` (ENDING) and, once the MP4 is in the bucket, `egress_ended`
 *   (COMPLETE with `fileResults`, or FAILED with the reason).
 *
 * There is no media: `deno task headset` joins through `POST /_standin/join` (a participant
 * token, then its tracks are "published") and leaves through `POST /_standin/leave`.
 * See {@linkcode startLiveKitStandIn}.
 */
import type { StandInEgress } from "./standin_egress.ts";
import {
  AccessToken,
  EgressInfo,
  EgressStatus,
  ParticipantEgressRequest,
  ParticipantInfo,
  ParticipantInfo_State,
  Room,
  TokenVerifier,
  TrackInfo,
  TrackSource,
  TrackType,
  WebhookEvent,
} from "livekit-server-sdk";

/** Options of {@linkcode startLiveKitStandIn}. */
export interface LiveKitStandInOptions {
  /** @default a fresh `APIstandin…` */
  apiKey?: string;
  /** @default a fresh random secret */
  apiSecret?: string;
  /** `0` picks a free port. @default {0} */
  port?: number;
  /** Where webhooks go; none without it. */
  webhookUrl?: string;
  /** How long before auto egress fails (no egress service). @default {21000} */
  egressFailureDelayMs?: number;
  /** Records egress requests (`dev/standin_egress.ts`); without it auto egress fails. */
  egress?: StandInEgress;
}

/** One call the stand-in received. */
export interface LiveKitCall {
  service: string;
  method: string;
  body: Record<string, unknown>;
  grants: Record<string, unknown>;
}

/** How it answers: normally, with a 503, or never (until stopped). */
export type LiveKitMode = "ok" | "fail" | "hang";

interface StandInParticipant {
  info: ParticipantInfo;
  publisher: boolean;
}

interface StandInRoom {
  room: Room;
  /** The auto egress configuration of CreateRoom, as sent. */
  egress?: unknown;
  participants: Map<string, StandInParticipant>;
  /**
   * Identities whose present connection has published: auto egress starts only on a
   * connection's first publish. A participant who leaves is forgotten here.
   */
  published: Set<string>;
}

/** An egress the stand-in's egress is running or has run. */
interface StandInRecording {
  info: EgressInfo;
  /** The participant recorded. */
  identity: string;
  objectName: string;
  startedMs: number;
  recorder: ParticipantInfo;
  ending: boolean;
}

/** A running stand-in. */
export interface LiveKitStandIn {
  /** `ws://127.0.0.1:PORT`. */
  url: string;
  httpUrl: string;
  apiKey: string;
  apiSecret: string;
  rooms: Map<string, StandInRoom>;
  egresses: Map<string, Record<string, unknown>>;
  calls: LiveKitCall[];
  mode: LiveKitMode;
  /** Events posted so far (names), in order. */
  posted: string[];
  /** `LIVEKIT_URL`, `LIVEKIT_API_KEY` and `LIVEKIT_API_SECRET`. */
  env: Record<string, string>;
  /** Adds an egress as LiveKit would report it from ListEgress. */
  addEgress(info: { egressId: string; roomName: string; status: EgressStatus }): void;
  /** Creates a room as CreateRoom does, as if someone had created it earlier. */
  addRoom(name: string): void;
  stop(): Promise<void>;
}

/** The grant each call needs, and whether it must name the room. */
const GRANT_OF: Record<string, { grant: string; room?: true }> = {
  "RoomService/CreateRoom": { grant: "roomCreate" },
  "RoomService/DeleteRoom": { grant: "roomCreate" },
  "RoomService/ListRooms": { grant: "roomList" },
  "RoomService/ListParticipants": { grant: "roomAdmin", room: true },
  "RoomService/RemoveParticipant": { grant: "roomAdmin", room: true },
  "Egress/StartParticipantEgress": { grant: "roomRecord" },
  "Egress/ListEgress": { grant: "roomRecord" },
  "Egress/StopEgress": { grant: "roomRecord" },
};

const WEBHOOK_ATTEMPTS = 5;
const WEBHOOK_TIMEOUT_MS = 3000;

function twirpError(status: number, code: string, msg: string): Response {
  return Response.json({ code, msg }, { status });
}

function randomId(prefix: string): string {
  return `${prefix}_${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`;
}

const EGRESS_KIND = 2; // ParticipantInfo_Kind.EGRESS, which the SDK does not export

/** An egress request's file path with LiveKit's `{time}` and `{room_name}` filled in. */
function objectNameOf(filepath: string, roomName: string, at: Date): string {
  const time = at.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "");
  return filepath.replaceAll("{time}", time).replaceAll("{room_name}", roomName);
}

/** The file path of an egress request or auto egress configuration (protobuf JSON). */
function filepathOf(request: unknown): string | undefined {
  // deno-lint-ignore no-explicit-any
  const body = request as any;
  const output = body?.file ?? body?.fileOutputs?.[0] ?? body?.participant?.fileOutputs?.[0];
  return typeof output?.filepath === "string" ? output.filepath : undefined;
}

/** The participant request an egress reports (ListEgress shows whom it records). */
function participantRequest(roomName: string, identity: string): ParticipantEgressRequest {
  return new ParticipantEgressRequest({ roomName, identity });
}

/** Starts the stand-in on 127.0.0.1. */
export function startLiveKitStandIn(options: LiveKitStandInOptions = {}): LiveKitStandIn {
  const apiKey = options.apiKey ?? `APIstandin${crypto.randomUUID().slice(0, 8)}`;
  const apiSecret = options.apiSecret ??
    `${crypto.randomUUID()}${crypto.randomUUID()}`.replaceAll("-", "");
  const verifier = new TokenVerifier(apiKey, apiSecret);
  const hanging = new Set<() => void>();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const deliveries = new Set<Promise<void>>();
  const recordings = new Map<string, StandInRecording>();
  const finishing = new Set<Promise<void>>();
  let stopped = false;

  const standIn: LiveKitStandIn = {
    url: "",
    httpUrl: "",
    apiKey,
    apiSecret,
    rooms: new Map(),
    egresses: new Map(),
    calls: [],
    mode: "ok",
    posted: [],
    env: {},
    addEgress({ egressId, roomName, status }) {
      standIn.egresses.set(
        egressId,
        new EgressInfo({ egressId, roomName, status }).toJson() as Record<string, unknown>,
      );
    },
    addRoom(name) {
      createRoom({ name });
    },
    async stop() {
      // Recordings that are being written finish first (each is a few seconds at most).
      await Promise.allSettled([...finishing]);
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      for (const release of hanging) release();
      await Promise.allSettled([...deliveries]);
      await server.shutdown();
    },
  };

  function later(ms: number, run: () => void) {
    const timer = setTimeout(() => {
      timers.delete(timer);
      run();
    }, ms);
    timers.add(timer);
  }

  /** Posts one event, retrying as LiveKit does (5 tries over about 15 s). */
  function post(fields: Record<string, unknown>) {
    if (!options.webhookUrl || stopped) return;
    const event = new WebhookEvent({
      id: randomId("EV"),
      createdAt: BigInt(Math.floor(Date.now() / 1000)),
      ...fields,
    });
    // The SDK's WebhookEvent constructor resets `event` after its fields are set.
    event.event = fields.event as WebhookEvent["event"];
    const body = JSON.stringify(event.toJson());
    standIn.posted.push(String(fields.event));
    const delivery = (async () => {
      const hash = new Uint8Array(
        await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body)),
      );
      const token = new AccessToken(apiKey, apiSecret, { ttl: "10m" });
      token.sha256 = btoa(String.fromCharCode(...hash));
      const authorization = await token.toJwt();
      for (let attempt = 1; attempt <= WEBHOOK_ATTEMPTS && !stopped; attempt++) {
        try {
          const response = await fetch(options.webhookUrl!, {
            method: "POST",
            headers: { "content-type": "application/webhook+json", authorization },
            body,
            signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
          });
          await response.body?.cancel();
          if (response.status < 500) return;
        } catch {
          // Retried below, as for a 5xx.
        }
        await new Promise((resolve) => setTimeout(resolve, 1000 * 2 ** (attempt - 1)));
      }
    })();
    deliveries.add(delivery);
    delivery.finally(() => deliveries.delete(delivery));
  }

  function createRoom(body: Record<string, unknown>): Record<string, unknown> {
    const name = String(body.name ?? "");
    const existing = standIn.rooms.get(name);
    if (existing) return existing.room.toJson() as Record<string, unknown>;
    const room = new Room({
      sid: randomId("RM"),
      name,
      emptyTimeout: Number(body.emptyTimeout ?? 0),
      departureTimeout: Number(body.departureTimeout ?? 0),
      maxParticipants: Number(body.maxParticipants ?? 0),
      metadata: String(body.metadata ?? ""),
      creationTime: BigInt(Math.floor(Date.now() / 1000)),
    });
    standIn.rooms.set(name, {
      room,
      egress: body.egress,
      participants: new Map(),
      published: new Set(),
    });
    post({ event: "room_started", room });
    return room.toJson() as Record<string, unknown>;
  }

  function deleteRoom(name: string): Response | Record<string, unknown> {
    const entry = standIn.rooms.get(name);
    if (!entry) return twirpError(404, "not_found", "requested room does not exist");
    standIn.rooms.delete(name);
    for (const participant of entry.participants.values()) {
      participant.info.state = ParticipantInfo_State.DISCONNECTED;
      post({ event: "participant_left", room: entry.room, participant: participant.info });
    }
    for (const recording of recordings.values()) {
      if (recording.info.roomName === name) endRecording(recording, entry);
    }
    post({ event: "room_finished", room: entry.room });
    return {};
  }

  /** A participant joins (the headset's way in); a publisher publishes camera and microphone. */
  function join(grants: Record<string, unknown>, identity: string): Response {
    const entry = standIn.rooms.get(String(grants.room ?? ""));
    if (grants.roomJoin !== true || !entry) {
      return twirpError(401, "unauthenticated", "permissions denied");
    }
    const publisher = grants.canPublish !== false;
    // A second connection with the same identity replaces the first (DUPLICATE_IDENTITY).
    if (entry.participants.has(identity)) removeParticipant(entry, identity);
    const info = new ParticipantInfo({
      sid: randomId("PA"),
      identity,
      state: ParticipantInfo_State.ACTIVE,
      joinedAt: BigInt(Math.floor(Date.now() / 1000)),
    });
    entry.participants.set(identity, { info, publisher });
    post({ event: "participant_joined", room: entry.room, participant: info });
    if (publisher) {
      const tracks = [
        new TrackInfo({
          sid: randomId("TR"),
          type: TrackType.VIDEO,
          source: TrackSource.CAMERA,
          width: 1280,
          height: 720,
        }),
        new TrackInfo({
          sid: randomId("TR"),
          type: TrackType.AUDIO,
          source: TrackSource.MICROPHONE,
        }),
      ];
      info.tracks = tracks;
      for (const track of tracks) {
        post({ event: "track_published", room: entry.room, participant: info, track });
      }
      const firstPublish = !entry.published.has(identity);
      entry.published.add(identity);
      if (entry.egress && firstPublish) autoEgress(entry, identity);
    }
    return Response.json({ room: entry.room.toJson(), participant: info.toJson() });
  }

  function leave(grants: Record<string, unknown>, identity: string): Response {
    const entry = standIn.rooms.get(String(grants.room ?? ""));
    if (!entry?.participants.has(identity)) {
      return twirpError(404, "not_found", "participant not found");
    }
    removeParticipant(entry, identity);
    return Response.json({});
  }

  /**
   * A connection leaves (or is removed, or replaced): `participant_left`, its egress ends, and
   * its identity's next connection is recorded again on its first publish.
   */
  function removeParticipant(entry: StandInRoom, identity: string) {
    const participant = entry.participants.get(identity)!;
    entry.participants.delete(identity);
    entry.published.delete(identity);
    participant.info.state = ParticipantInfo_State.DISCONNECTED;
    post({ event: "participant_left", room: entry.room, participant: participant.info });
    endRecordingsOf(entry, identity);
  }

  /** Auto egress on a connection's first publish: recorded by the egress, or failed without one. */
  function autoEgress(entry: StandInRoom, identity: string) {
    const filepath = filepathOf(entry.egress);
    if (options.egress && filepath) {
      startRecording(entry, identity, filepath);
      return;
    }
    const roomName = entry.room.name;
    later(options.egressFailureDelayMs ?? 21_000, () => {
      post({
        event: "egress_ended",
        egressInfo: new EgressInfo({
          roomName,
          status: EgressStatus.EGRESS_FAILED,
          error: "no response from servers",
        }),
      });
    });
  }

  function keep(recording: StandInRecording, request?: unknown) {
    const previous = standIn.egresses.get(recording.info.egressId);
    standIn.egresses.set(recording.info.egressId, {
      ...recording.info.toJson() as Record<string, unknown>,
      request: request ?? previous?.request,
    });
  }

  /** Starts recording `identity`: STARTING, then ACTIVE with its recorder in the room. */
  function startRecording(
    entry: StandInRoom,
    identity: string,
    filepath: string,
    request?: unknown,
  ): EgressInfo {
    const startedMs = Date.now();
    const egressId = randomId("EG");
    const info = new EgressInfo({
      egressId,
      roomId: entry.room.sid,
      roomName: entry.room.name,
      status: EgressStatus.EGRESS_STARTING,
      startedAt: BigInt(startedMs) * 1_000_000n,
      request: { case: "participant", value: participantRequest(entry.room.name, identity) },
    });
    const recording: StandInRecording = {
      info,
      identity,
      objectName: objectNameOf(filepath, entry.room.name, new Date(startedMs)),
      startedMs,
      recorder: new ParticipantInfo({
        sid: randomId("PA"),
        identity: egressId,
        kind: EGRESS_KIND,
        state: ParticipantInfo_State.ACTIVE,
        joinedAt: BigInt(Math.floor(startedMs / 1000)),
      }),
      ending: false,
    };
    recordings.set(egressId, recording);
    keep(recording, request);
    post({ event: "egress_started", egressInfo: info });
    later(300, () => {
      if (recording.ending) return;
      info.status = EgressStatus.EGRESS_ACTIVE;
      keep(recording);
      post({ event: "participant_joined", room: entry.room, participant: recording.recorder });
      post({ event: "egress_updated", egressInfo: info });
    });
    return info;
  }

  function endRecordingsOf(entry: StandInRoom, identity: string) {
    for (const recording of recordings.values()) {
      if (recording.info.roomName === entry.room.name && recording.identity === identity) {
        endRecording(recording, entry);
      }
    }
  }

  /** Ends a recording: ENDING, then the MP4 is made and stored, then COMPLETE (or FAILED). */
  function endRecording(recording: StandInRecording, entry: StandInRoom) {
    if (recording.ending || !options.egress) return;
    recording.ending = true;
    const { info } = recording;
    const wasActive = info.status === EgressStatus.EGRESS_ACTIVE;
    info.status = EgressStatus.EGRESS_ENDING;
    keep(recording);
    if (wasActive) {
      recording.recorder.state = ParticipantInfo_State.DISCONNECTED;
      post({ event: "participant_left", room: entry.room, participant: recording.recorder });
    }
    post({ event: "egress_updated", egressInfo: info });
    const seconds = (Date.now() - recording.startedMs) / 1000;
    const work = (async () => {
      try {
        const file = await options.egress!.record({ objectName: recording.objectName, seconds });
        const endedAt = BigInt(recording.startedMs + file.seconds * 1000) * 1_000_000n;
        // Built anew: the SDK's messages take plain nested objects only in their constructor.
        recording.info = new EgressInfo({
          egressId: info.egressId,
          roomId: info.roomId,
          roomName: info.roomName,
          status: EgressStatus.EGRESS_COMPLETE,
          request: info.request,
          startedAt: info.startedAt,
          endedAt,
          fileResults: [{
            filename: file.filename,
            location: file.location,
            size: BigInt(file.size),
            duration: BigInt(Math.round(file.seconds * 1e9)),
            startedAt: info.startedAt,
            endedAt,
          }],
        });
      } catch (error) {
        info.status = EgressStatus.EGRESS_FAILED;
        info.endedAt = BigInt(Date.now()) * 1_000_000n;
        info.error = error instanceof Error ? error.message : String(error);
      }
      keep(recording);
      post({ event: "egress_ended", egressInfo: recording.info });
    })();
    finishing.add(work);
    work.finally(() => finishing.delete(work));
  }

  async function handle(request: Request): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (request.method === "GET" && pathname === "/") return new Response("OK");
    const header = request.headers.get("authorization") ?? "";
    if (!header.startsWith("Bearer ")) {
      return twirpError(401, "unauthenticated", "authorization header required");
    }
    let claims: Awaited<ReturnType<TokenVerifier["verify"]>>;
    try {
      claims = await verifier.verify(header.slice(7));
    } catch {
      return new Response("invalid token\n", { status: 401 });
    }
    const grants = (claims.video ?? {}) as Record<string, unknown>;
    if (request.method === "POST" && pathname === "/_standin/join") {
      return join(grants, String(claims.sub ?? ""));
    }
    if (request.method === "POST" && pathname === "/_standin/leave") {
      return leave(grants, String(claims.sub ?? ""));
    }

    const match = /^\/twirp\/livekit\.(\w+)\/(\w+)$/.exec(pathname);
    if (request.method !== "POST" || !match) return twirpError(404, "bad_route", "no such route");
    const [, service, method] = match;
    const needed = GRANT_OF[`${service}/${method}`];
    if (!needed) return twirpError(404, "bad_route", `${service}/${method} is not implemented`);
    let body: Record<string, unknown>;
    try {
      body = await request.json() as Record<string, unknown>;
    } catch {
      return twirpError(400, "malformed", "the body is not JSON");
    }
    if (grants[needed.grant] !== true || (needed.room && grants.room !== body.room)) {
      return twirpError(401, "unauthenticated", "permissions denied");
    }
    standIn.calls.push({ service, method, body, grants });

    if (standIn.mode === "fail") return twirpError(503, "unavailable", "server is shutting down");
    if (standIn.mode === "hang") {
      await new Promise<void>((resolve) => hanging.add(resolve));
      return twirpError(503, "unavailable", "released");
    }
    const result = answer(`${service}/${method}`, body);
    return result instanceof Response ? result : Response.json(result);
  }

  function answer(call: string, body: Record<string, unknown>): unknown {
    switch (call) {
      case "RoomService/CreateRoom":
        return createRoom(body);
      case "RoomService/DeleteRoom":
        return deleteRoom(String(body.room ?? ""));
      case "RoomService/ListRooms": {
        const names = (body.names ?? []) as string[];
        const rooms = [...standIn.rooms.values()]
          .filter(({ room }) => names.length === 0 || names.includes(room.name))
          .map(({ room }) => room.toJson());
        return { rooms };
      }
      case "RoomService/ListParticipants": {
        const entry = standIn.rooms.get(String(body.room ?? ""));
        return {
          participants: [...entry?.participants.values() ?? []].map(({ info }) => info.toJson()),
        };
      }
      case "RoomService/RemoveParticipant": {
        const entry = standIn.rooms.get(String(body.room ?? ""));
        const identity = String(body.identity ?? "");
        if (!entry?.participants.has(identity)) {
          return twirpError(404, "not_found", "participant not found");
        }
        removeParticipant(entry, identity);
        return {};
      }
      case "Egress/StartParticipantEgress": {
        const entry = standIn.rooms.get(String(body.roomName ?? ""));
        if (!entry) return twirpError(404, "not_found", "requested room does not exist");
        const filepath = filepathOf(body);
        if (options.egress && filepath) {
          return startRecording(entry, String(body.identity ?? ""), filepath, body).toJson();
        }
        const egressId = randomId("EG");
        const egressInfo = new EgressInfo({
          egressId,
          roomName: String(body.roomName),
          status: EgressStatus.EGRESS_STARTING,
          startedAt: BigInt(Date.now()) * 1_000_000n,
          request: {
            case: "participant",
            value: participantRequest(String(body.roomName), String(body.identity ?? "")),
          },
        });
        const info = egressInfo.toJson() as Record<string, unknown>;
        standIn.egresses.set(egressId, { ...info, request: body });
        post({ event: "egress_started", egressInfo });
        return info;
      }
      case "Egress/ListEgress": {
        const items = [...standIn.egresses.values()].filter((item) =>
          (!body.roomName || item.roomName === body.roomName) &&
          (!body.egressId || item.egressId === body.egressId)
        ).map(({ request: _request, ...item }) => item);
        return { items };
      }
      case "Egress/StopEgress": {
        const recording = recordings.get(String(body.egressId));
        const entry = recording && standIn.rooms.get(String(recording.info.roomName));
        if (recording && entry && !recording.ending) endRecording(recording, entry);
        const item = standIn.egresses.get(String(body.egressId));
        if (!item) return twirpError(404, "not_found", "egress not found");
        if (!recording) item.status = "EGRESS_ENDING";
        const { request: _request, ...info } = item;
        return info;
      }
    }
    return {};
  }

  const server = Deno.serve(
    { hostname: "127.0.0.1", port: options.port ?? 0, onListen() {} },
    handle,
  );
  standIn.httpUrl = `http://127.0.0.1:${server.addr.port}`;
  standIn.url = `ws://127.0.0.1:${server.addr.port}`;
  standIn.env = {
    LIVEKIT_URL: standIn.url,
    LIVEKIT_API_KEY: apiKey,
    LIVEKIT_API_SECRET: apiSecret,
  };
  return standIn;
}
