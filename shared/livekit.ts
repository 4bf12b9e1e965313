/**
 * LiveKit for sessions: room names, the participant identity scheme, grants, and the room
 * service. The identity scheme is how the webhook tells the streamer from viewers:
 *
 * - `streamer:{userId}`: the session's streamer (publisher);
 * - `guardian:{guardianId}`: a guardian watching, by account or watch link alike, so each
 *   guardian watches on one device at a time (LiveKit disconnects the older connection with
 *   the same identity) and revoking them removes exactly them (`removeParticipant`);
 * - `guardian:{guardianId}:{random}` and `user:{userId}:{random}`: viewer identities of older
 *   grants, still read in webhooks.
 *
 * Anything else (egress and recorder participants) is never counted.
 */
import {
  AccessToken,
  AudioCodec,
  AutoParticipantEgress,
  EgressClient,
  EgressStatus,
  EncodedFileOutput,
  EncodedFileType,
  EncodingOptions,
  EncodingOptionsPreset,
  GCPUpload,
  RoomEgress,
  RoomServiceClient,
  TrackSource,
  VideoCodec,
  type VideoGrant,
} from "livekit-server-sdk";
import type { Clock } from "./kernel/clock.ts";
import { recordingPrefix } from "./egress.ts";
import { unavailable } from "./kernel/errors.ts";

/** LiveKit settings, as `livekitEnv` parses them. */
export interface LiveKitSettings {
  url: string;
  httpUrl: string;
  apiKey: string;
  apiSecret: string;
  maxParticipants?: number;
  /** Bound on every LiveKit API call, in seconds. */
  timeoutSeconds: number;
}

/** Where egress writes recordings. */
export interface RecordingTarget {
  bucket: string;
  /**
   * The service-account JSON, sent in each egress request (never to a client), only when
   * LiveKit's egress has no storage of its own (`EGRESS_STORAGE=request`). Without it, requests
   * name only the object path, and egress writes to the bucket it is configured with. LiveKit
   * echoes requests in its webhooks, so this is off by default.
   */
  credentialsJson?: string;
  /** How egress encodes (`EGRESS_ENCODING`). @default {"h264-1080p30-aac"} */
  encoding?: EgressEncoding;
}

/** Where egress gets its storage credentials (`EGRESS_STORAGE`). */
export type EgressStorage = "livekit" | "request";

/**
 * How egress encodes: LiveKit's H.264 1080p30 preset (AAC audio), or H.264 720p30 with Opus
 * audio for egress builds without an AAC encoder (`EGRESS_ENCODING`).
 */
export type EgressEncoding = "h264-1080p30-aac" | "h264-720p30-opus";

/** Options of {@linkcode recordingTargetOf}. */
export interface RecordingTargetOptions {
  /** Where egress gets its storage credentials. @default {"livekit"} */
  egressStorage?: EgressStorage;
  /** How egress encodes. @default {"h264-1080p30-aac"} */
  egressEncoding?: EgressEncoding;
}

/** The recording target of a configured bucket (`storageEnv`), or undefined without one. */
export function recordingTargetOf(
  storage: { bucket: string; credentials: Record<string, unknown> } | undefined,
  options: RecordingTargetOptions = {},
): RecordingTarget | undefined {
  if (!storage) return undefined;
  const encoding = options.egressEncoding ?? "h264-1080p30-aac";
  return (options.egressStorage ?? "livekit") === "request"
    ? { bucket: storage.bucket, credentialsJson: JSON.stringify(storage.credentials), encoding }
    : { bucket: storage.bucket, encoding };
}

/** The egress encoding options of a target, as a preset or as advanced options. */
function encodingOf(target: RecordingTarget): EncodingOptionsPreset | EncodingOptions {
  if (target.encoding !== "h264-720p30-opus") return EncodingOptionsPreset.H264_1080P_30;
  return new EncodingOptions({
    width: 1280,
    height: 720,
    framerate: 30,
    videoCodec: VideoCodec.H264_MAIN,
    videoBitrate: 3000,
    audioCodec: AudioCodec.OPUS,
    audioBitrate: 128,
    keyFrameInterval: 4,
  });
}

/**
 * What a failed LiveKit call becomes: LiveKit's 4xx answers (a refused grant, a bad request)
 * are permanent, so they are our error (a logged `500`), not `503 livekit_unavailable`, which
 * is for what a retry may cure (5xx, timeouts, a broken connection).
 */
function livekitFailure(error: unknown): Error {
  const status = (error as { status?: unknown } | null)?.status;
  if (typeof status === "number" && status >= 400 && status < 500) {
    return new Error(`LiveKit refused the call with ${status}`, { cause: error });
  }
  return unavailable("livekit", error);
}

/** How long the streamer's publisher grant lives; `livekit-token` refreshes it. */
export const PUBLISHER_GRANT_TTL_SECONDS = 15 * 60;

/**
 * How long a viewer grant lives. LiveKit checks expiry only when joining, so this bounds how
 * long a grant handed out before a revocation can still be used to join.
 */
export const VIEWER_GRANT_TTL_SECONDS = 5 * 60;

/** The LiveKit grant object of the contract. */
export interface LiveKitGrant {
  url: string;
  token: string;
  roomName: string;
  identity: string;
  expiresAt: string;
  canPublish: boolean;
}

/** What an identity says about its participant. */
export type ParticipantIdentity =
  | { kind: "streamer"; userId: string }
  | { kind: "guardian"; guardianId: string }
  | { kind: "user"; userId: string }
  | { kind: "other" };

const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
const STREAMER = new RegExp(`^streamer:(${UUID})$`);
const GUARDIAN = new RegExp(`^guardian:(${UUID})(?::[A-Za-z0-9]+)?$`);
const USER = new RegExp(`^user:(${UUID}):[A-Za-z0-9]+$`);

/** The room of a session. */
export function roomNameFor(sessionId: string): string {
  return `session-${sessionId}`;
}

/** The streamer's identity. */
export function streamerIdentity(userId: string): string {
  return `streamer:${userId}`;
}

/** A guardian's viewer identity, the same whichever door (account or watch link) they used. */
export function guardianIdentity(guardianId: string): string {
  return `guardian:${guardianId}`;
}

/** Classifies a participant identity (see the module's documentation). */
export function parseIdentity(identity: string): ParticipantIdentity {
  let match = STREAMER.exec(identity);
  if (match) return { kind: "streamer", userId: match[1] };
  match = GUARDIAN.exec(identity);
  if (match) return { kind: "guardian", guardianId: match[1] };
  match = USER.exec(identity);
  if (match) return { kind: "user", userId: match[1] };
  return { kind: "other" };
}

/** Options of {@linkcode issueGrant}. */
export interface GrantOptions {
  roomName: string;
  identity: string;
  /** Display name shown to others. */
  name?: string;
  /** Publisher (streamer) or subscriber (viewer). */
  publisher: boolean;
  clock: Clock;
}

/**
 * Issues a room grant for this room only. The publisher may publish camera and microphone
 * and nothing else: no subscribe, no data. Viewers may only subscribe.
 */
export async function issueGrant(
  settings: LiveKitSettings,
  options: GrantOptions,
): Promise<LiveKitGrant> {
  const ttl = options.publisher ? PUBLISHER_GRANT_TTL_SECONDS : VIEWER_GRANT_TTL_SECONDS;
  const token = new AccessToken(settings.apiKey, settings.apiSecret, {
    identity: options.identity,
    name: options.name,
    ttl,
  });
  token.addGrant({
    room: options.roomName,
    roomJoin: true,
    canPublish: options.publisher,
    canPublishSources: options.publisher ? [TrackSource.CAMERA, TrackSource.MICROPHONE] : [],
    canSubscribe: !options.publisher,
    canPublishData: false,
    canUpdateOwnMetadata: false,
  });
  return {
    url: settings.url,
    token: await token.toJwt(),
    roomName: options.roomName,
    identity: options.identity,
    expiresAt: new Date(options.clock.now().getTime() + ttl * 1000).toISOString(),
    canPublish: options.publisher,
  };
}

/** Options of {@linkcode createSessionRoom}. */
export interface CreateRoomOptions {
  sessionId: string;
  streamerId: string;
  /** Record the streamer with participant auto egress to this target. */
  recording?: RecordingTarget;
}

/** How long the server's own API tokens live, and for how much of that they are reused. */
const SERVICE_TOKEN_TTL_SECONDS = 10 * 60;
const SERVICE_TOKEN_REUSE_MS = 5 * 60_000;
const serviceTokens = new WeakMap<LiveKitSettings, Map<string, { jwt: string; until: number }>>();

/**
 * An API token for the server's own calls, carrying only `grant`. The SDK would sign a new
 * one for every call; one is signed per grant and reused while it has minutes to live.
 */
async function serviceToken(settings: LiveKitSettings, grant: VideoGrant): Promise<string> {
  let tokens = serviceTokens.get(settings);
  if (!tokens) serviceTokens.set(settings, tokens = new Map());
  const key = JSON.stringify(grant);
  const known = tokens.get(key);
  if (known && Date.now() < known.until) return known.jwt;
  const token = new AccessToken(settings.apiKey, settings.apiSecret, {
    ttl: SERVICE_TOKEN_TTL_SECONDS,
  });
  token.addGrant(grant);
  const jwt = await token.toJwt();
  tokens.set(key, { jwt, until: Date.now() + SERVICE_TOKEN_REUSE_MS });
  return jwt;
}

/** The room service: create, delete (`roomCreate`) and list (`roomList`) rooms. */
async function roomService(settings: LiveKitSettings): Promise<RoomServiceClient> {
  return new RoomServiceClient(settings.httpUrl, undefined, undefined, {
    requestTimeout: settings.timeoutSeconds,
    token: await serviceToken(settings, { roomCreate: true, roomList: true }),
  });
}

/**
 * An MP4 file written straight to the bucket under the session's prefix: with the bucket and
 * its credentials in the request when the target has them, else to egress's own storage.
 */
function fileOutput(streamerId: string, sessionId: string, target: RecordingTarget) {
  const filepath = `${recordingPrefix(streamerId, sessionId)}{time}.mp4`;
  if (target.credentialsJson === undefined) {
    return new EncodedFileOutput({ fileType: EncodedFileType.MP4, filepath });
  }
  return new EncodedFileOutput({
    fileType: EncodedFileType.MP4,
    filepath,
    output: {
      case: "gcp",
      value: new GCPUpload({ bucket: target.bucket, credentials: target.credentialsJson }),
    },
  });
}

/**
 * Creates the session's room server side, with participant auto egress writing MP4 (1080p30)
 * straight to GCS when recording. Throws `503 livekit_unavailable` when LiveKit cannot be
 * reached, and a plain error (a `500`) when it refuses (`livekitFailure`).
 */
export async function createSessionRoom(
  settings: LiveKitSettings,
  options: CreateRoomOptions,
): Promise<void> {
  const encoding = options.recording && encodingOf(options.recording);
  const egress = options.recording && new RoomEgress({
    participant: new AutoParticipantEgress({
      options: encoding instanceof EncodingOptions
        ? { case: "advanced", value: encoding }
        : { case: "preset", value: encoding! },
      fileOutputs: [fileOutput(options.streamerId, options.sessionId, options.recording)],
    }),
  });
  try {
    const rooms = await roomService(settings);
    await rooms.createRoom({
      name: roomNameFor(options.sessionId),
      emptyTimeout: 10 * 60,
      departureTimeout: 2 * 60,
      maxParticipants: settings.maxParticipants,
      metadata: JSON.stringify({ sessionId: options.sessionId }),
      egress,
    });
  } catch (error) {
    throw livekitFailure(error);
  }
}

/** Deletes a session's room (which ends its egress). Throws `503 livekit_unavailable`. */
export async function deleteSessionRoom(
  settings: LiveKitSettings,
  sessionId: string,
): Promise<void> {
  try {
    const rooms = await roomService(settings);
    await rooms.deleteRoom(roomNameFor(sessionId));
  } catch (error) {
    // A room that is already gone is what we wanted.
    if ((error as { status?: number }).status === 404) return;
    throw livekitFailure(error);
  }
}

/**
 * Removes a participant from a room (`roomAdmin` on that room), as when its guardian is revoked.
 * A room or participant that is not there is what we wanted. Throws `503 livekit_unavailable`.
 */
export async function removeParticipant(
  settings: LiveKitSettings,
  target: { roomName: string; identity: string },
): Promise<void> {
  try {
    const service = new RoomServiceClient(settings.httpUrl, undefined, undefined, {
      requestTimeout: settings.timeoutSeconds,
      token: await serviceToken(settings, { roomAdmin: true, room: target.roomName }),
    });
    await service.removeParticipant(target.roomName, target.identity);
  } catch (error) {
    if ((error as { status?: number }).status === 404) return;
    throw livekitFailure(error);
  }
}

/** The egress service (`roomRecord`). */
async function egressService(settings: LiveKitSettings): Promise<EgressClient> {
  return new EgressClient(settings.httpUrl, undefined, undefined, {
    requestTimeout: settings.timeoutSeconds,
    token: await serviceToken(settings, { roomRecord: true }),
  });
}

/** Egress statuses that still record (or are about to): a new egress would be a second one. */
const RECORDING_STATUSES = new Set([EgressStatus.EGRESS_STARTING, EgressStatus.EGRESS_ACTIVE]);

/**
 * Records the streamer again with a participant egress (1080p30 MP4 to the bucket), as when
 * they reconnect after their egress ended. Returns the egress id; `503 livekit_unavailable`.
 *
 * StartParticipantEgress is not idempotent, and a webhook that calls this may be delivered
 * again (LiveKit retries a 5xx) or come once per published track; so it first asks ListEgress
 * for an egress of the streamer in the room that is starting or active, and returns that one's
 * id instead of starting a second. Callers serialise per session (the webhook's restart claim,
 * private.egress_restart_claims), so two calls never both find none.
 */
export async function startStreamerEgress(
  settings: LiveKitSettings,
  options: { sessionId: string; streamerId: string; recording: RecordingTarget },
): Promise<string> {
  const roomName = roomNameFor(options.sessionId);
  const identity = streamerIdentity(options.streamerId);
  try {
    const egress = await egressService(settings);
    const running = (await egress.listEgress({ roomName })).find((info) =>
      RECORDING_STATUSES.has(info.status) && info.request.case === "participant" &&
      info.request.value.identity === identity
    );
    if (running) return running.egressId;
    const info = await egress.startParticipantEgress(
      roomName,
      identity,
      { file: fileOutput(options.streamerId, options.sessionId, options.recording) },
      { encodingOptions: encodingOf(options.recording) },
    );
    return info.egressId;
  } catch (error) {
    throw livekitFailure(error);
  }
}

/** Names of the rooms that exist now. `503 livekit_unavailable`. */
export async function listRoomNames(settings: LiveKitSettings): Promise<Set<string>> {
  try {
    const service = await roomService(settings);
    const rooms = await service.listRooms();
    return new Set(rooms.map((room) => room.name));
  } catch (error) {
    throw livekitFailure(error);
  }
}

/** The egresses of a room as protobuf JSON (see shared/egress.ts). `503 livekit_unavailable`. */
export async function listRoomEgress(
  settings: LiveKitSettings,
  roomName: string,
): Promise<Record<string, unknown>[]> {
  try {
    const egress = await egressService(settings);
    const items = await egress.listEgress({ roomName });
    return items.map((item) => item.toJson() as Record<string, unknown>);
  } catch (error) {
    throw livekitFailure(error);
  }
}
