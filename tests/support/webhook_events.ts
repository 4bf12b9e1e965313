/**
 * Realistic LiveKit webhook traffic for tests and benchmarks: per session, the room starts,
 * the streamer joins and publishes camera and microphone, auto egress starts and runs, viewers
 * come and go (some by aborted connections, some aborted before they ever joined), a streamer
 * may drop and reconnect (its egress ends, and the new connection gets an auto egress of its
 * own, as livekit-server starts one per connection), the room finishes and egress completes (or
 * fails, or hits its limit). Events are protobuf JSON as LiveKit posts them,
 * signed exactly as LiveKit signs them: a bare JWT whose `sha256` claim is the body's hash.
 */
import { AccessToken } from "livekit-server-sdk";

/** Deterministic pseudo-random numbers (mulberry32), so failures reproduce from the seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A shuffled copy (Fisher-Yates with `random`). */
export function shuffled<T>(items: T[], random: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy;
}

/** What the generator needs to know of one session. */
export interface GeneratedSession {
  sessionId: string;
  streamerId: string;
  roomName: string;
  /** Guardian rows whose viewers join. */
  guardianIds: string[];
}

/** Options of {@linkcode generateEvents}. */
export interface GenerateOptions {
  random: () => number;
  /** Seconds since the epoch of the first event. */
  start: number;
  /** Drop and reconnect the streamer midway. @default false */
  reconnect?: boolean;
  /** How auto egress ends. @default "complete" */
  egressEnd?: "complete" | "limit" | "failed" | "auto_failed";
  /** The bucket egress writes to. */
  bucket?: string;
}

// deno-lint-ignore no-explicit-any
export type EventJson = Record<string, any>;

let counter = 0;
function id(prefix: string): string {
  return `${prefix}_${(++counter).toString(36)}${crypto.randomUUID().slice(0, 8)}`;
}

const NANOS = 1_000_000_000n;

/** The events of one session, in the order LiveKit would send them. */
export function generateEvents(session: GeneratedSession, options: GenerateOptions): EventJson[] {
  const { random } = options;
  let clock = options.start;
  const tick = (max = 5) => (clock += 1 + Math.floor(random() * max));
  const room = { sid: id("RM"), name: session.roomName };
  const events: EventJson[] = [];
  const push = (event: string, at: number, fields: EventJson) =>
    events.push({ id: id("EV"), event, createdAt: String(at), room, ...fields });
  const streamer = (sid: string) => ({
    sid,
    identity: `streamer:${session.streamerId}`,
    state: "ACTIVE",
    joinedAt: String(clock),
  });

  push("room_started", tick(), {});
  let streamerSid = id("PA");
  /** A streamer connection joins and publishes its camera and microphone. */
  const joinAndPublish = (sid: string, wait?: number) => {
    push("participant_joined", tick(wait), { participant: streamer(sid) });
    push("track_published", tick(), {
      participant: streamer(sid),
      track: { sid: id("TR"), type: "VIDEO", source: "CAMERA" },
    });
    // Protobuf JSON omits zero values: an audio track has no type.
    push("track_published", clock, {
      participant: streamer(sid),
      track: { sid: id("TR"), source: "MICROPHONE" },
    });
  };
  /**
   * The room's auto egress of a connection's first publish (LiveKit starts one per connection,
   * so again for a streamer who reconnected): STARTING and ACTIVE, or nothing yet for an auto
   * egress that will fail without an id.
   */
  const autoEgress = () => {
    const egressId = options.egressEnd === "auto_failed" ? "" : id("EG");
    const egressStart = BigInt(tick()) * NANOS;
    const info = (status: string, extra: EventJson = {}) => ({
      egressId,
      roomId: room.sid,
      roomName: room.name,
      status,
      startedAt: String(egressStart),
      participant: { identity: `streamer:${session.streamerId}` },
      ...extra,
    });
    if (egressId) {
      push("egress_started", clock, { egressInfo: info("EGRESS_STARTING") });
      push("egress_updated", tick(), { egressInfo: info("EGRESS_ACTIVE") });
    }
    return { egressId, egressStart, info };
  };
  const failedWithoutId = (at: number) =>
    push("egress_ended", at, {
      egressInfo: { roomName: room.name, status: "EGRESS_FAILED", error: "no GPU available" },
    });

  joinAndPublish(streamerSid);
  let egress = autoEgress();

  const viewers = 2 + Math.floor(random() * 4);
  const open: { sid: string; identity: string }[] = [];
  for (let i = 0; i < viewers; i++) {
    const guardianId = session.guardianIds[i % session.guardianIds.length];
    const viewer = {
      sid: id("PA"),
      identity: `guardian:${guardianId}:${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`,
    };
    push("participant_joined", tick(), { participant: { ...viewer, state: "ACTIVE" } });
    open.push(viewer);
    if (random() < 0.3) {
      // A connection that never became active: LiveKit reports only its abort.
      const neverJoined = {
        sid: id("PA"),
        identity: `guardian:${guardianId}:${crypto.randomUUID().replaceAll("-", "").slice(0, 12)}`,
      };
      push("participant_connection_aborted", tick(), {
        participant: { ...neverJoined, state: "JOINING" },
      });
    }
    if (random() < 0.5 && open.length > 1) {
      const leaving = open.splice(Math.floor(random() * open.length), 1)[0];
      const kind = random() < 0.3 ? "participant_connection_aborted" : "participant_left";
      push(kind, tick(), { participant: { ...leaving, state: "DISCONNECTED" } });
    }
  }

  if (options.reconnect) {
    // The egress follows its participant out; the new connection is recorded by a new auto
    // egress (livekit-server's Room.RemoveParticipant forgets that the identity published).
    push("participant_left", tick(), { participant: streamer(streamerSid) });
    if (egress.egressId) {
      push("egress_ended", tick(), {
        egressInfo: egress.info(
          "EGRESS_COMPLETE",
          fileResult(session, egress.egressStart, clock, options.bucket),
        ),
      });
    } else {
      failedWithoutId(tick());
    }
    streamerSid = id("PA");
    joinAndPublish(streamerSid, 20);
    egress = autoEgress();
  }

  const end = tick(30);
  for (const viewer of open) {
    push("participant_left", end, { participant: { ...viewer, state: "DISCONNECTED" } });
  }
  push("participant_left", end, { participant: streamer(streamerSid) });
  push("room_finished", end + 1, {});

  if (options.egressEnd === "auto_failed") {
    failedWithoutId(end + 1);
  } else {
    push("egress_updated", end + 1, { egressInfo: egress.info("EGRESS_ENDING") });
    const final = options.egressEnd === "failed"
      ? egress.info("EGRESS_FAILED", {
        error: "upload failed",
        endedAt: String(BigInt(end + 2) * NANOS),
      })
      : egress.info(
        options.egressEnd === "limit" ? "EGRESS_LIMIT_REACHED" : "EGRESS_COMPLETE",
        fileResult(session, egress.egressStart, end + 2, options.bucket),
      );
    push("egress_ended", end + 2, { egressInfo: final });
  }
  return events;
}

function fileResult(session: GeneratedSession, start: bigint, end: number, bucket = "recordings") {
  const filename = `recordings/${session.streamerId}/${session.sessionId}/${start}.mp4`;
  const endedAt = BigInt(end) * NANOS;
  return {
    endedAt: String(endedAt),
    fileResults: [{
      filename,
      startedAt: String(start),
      endedAt: String(endedAt),
      duration: String(endedAt - start),
      size: String(1_000_000 + Number(endedAt % 1000n)),
      location: `https://storage.googleapis.com/${bucket}/${filename}`,
    }],
  };
}

/** The `Authorization` header LiveKit sends with `body`. */
export async function signBody(body: string, apiKey: string, apiSecret: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body));
  const token = new AccessToken(apiKey, apiSecret);
  token.sha256 = btoa(String.fromCharCode(...new Uint8Array(digest)));
  return await token.toJwt();
}

/** A body and its `Authorization` header, signed as LiveKit signs webhooks. */
export async function signEvent(
  event: EventJson,
  apiKey: string,
  apiSecret: string,
): Promise<{ body: string; authorization: string }> {
  const body = JSON.stringify(event);
  return { body, authorization: await signBody(body, apiKey, apiSecret) };
}
