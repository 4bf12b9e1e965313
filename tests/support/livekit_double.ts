/**
 * A loopback double of LiveKit's Twirp API (RoomService and Egress), checking what the real
 * server checks: the bearer token's signature and issuer (the API key), and the grant each
 * call needs (`roomCreate` for CreateRoom and DeleteRoom, `roomList` for ListRooms,
 * `roomRecord` for egress). It answers in LiveKit's protobuf JSON and Twirp error shape, and can
 * be told to fail or hang.
 */
import { EgressInfo, EgressStatus, Room, TokenVerifier } from "livekit-server-sdk";

/** One call the double received. */
export interface LiveKitCall {
  service: string;
  method: string;
  body: Record<string, unknown>;
  grants: Record<string, unknown>;
}

/** How the double answers: normally, with a 503, or never (until stopped). */
export type LiveKitMode = "ok" | "fail" | "hang";

/** A running double. */
export interface LiveKitDouble {
  url: string;
  apiKey: string;
  apiSecret: string;
  rooms: Map<string, Record<string, unknown>>;
  egresses: Map<string, Record<string, unknown>>;
  calls: LiveKitCall[];
  mode: LiveKitMode;
  /** `LIVEKIT_URL`, `LIVEKIT_API_KEY` and `LIVEKIT_API_SECRET` for a server under test. */
  env: Record<string, string>;
  /** Adds an egress as LiveKit would report it from ListEgress. */
  addEgress(info: { egressId: string; roomName: string; status: EgressStatus }): void;
  close(): Promise<void>;
}

const GRANT_OF: Record<string, string> = {
  "RoomService/CreateRoom": "roomCreate",
  "RoomService/DeleteRoom": "roomCreate",
  "RoomService/ListRooms": "roomList",
  "RoomService/RemoveParticipant": "roomAdmin",
  "Egress/StartParticipantEgress": "roomRecord",
  "Egress/ListEgress": "roomRecord",
  "Egress/StopEgress": "roomRecord",
};

function twirpError(status: number, code: string, msg: string): Response {
  return new Response(JSON.stringify({ code, msg }), {
    status,
    headers: { "content-type": "application/json" },
  });
}

/** Starts the double on 127.0.0.1 with a fresh key pair. */
export function startLiveKitDouble(): LiveKitDouble {
  const apiKey = `APItest${crypto.randomUUID().slice(0, 8)}`;
  const apiSecret = `${crypto.randomUUID()}${crypto.randomUUID()}`.replaceAll("-", "");
  const verifier = new TokenVerifier(apiKey, apiSecret);
  const hanging = new Set<() => void>();
  let sid = 0;

  const double: LiveKitDouble = {
    url: "",
    apiKey,
    apiSecret,
    rooms: new Map(),
    egresses: new Map(),
    calls: [],
    mode: "ok",
    env: {},
    addEgress({ egressId, roomName, status }) {
      double.egresses.set(
        egressId,
        new EgressInfo({ egressId, roomName, status }).toJson() as Record<string, unknown>,
      );
    },
    async close() {
      for (const release of hanging) release();
      await server.shutdown();
    },
  };

  async function handle(request: Request): Promise<Response> {
    const match = /^\/twirp\/livekit\.(\w+)\/(\w+)$/.exec(new URL(request.url).pathname);
    if (request.method !== "POST" || !match) return twirpError(404, "bad_route", "no such route");
    const [, service, method] = match;
    const needed = GRANT_OF[`${service}/${method}`];
    if (!needed) return twirpError(404, "bad_route", `${service}/${method} is not implemented`);

    const header = request.headers.get("authorization") ?? "";
    if (!header.startsWith("Bearer ")) {
      return twirpError(401, "unauthenticated", "authorization header required");
    }
    let grants: Record<string, unknown>;
    try {
      const claims = await verifier.verify(header.slice(7));
      grants = (claims.video ?? {}) as Record<string, unknown>;
    } catch {
      return twirpError(401, "unauthenticated", "invalid token");
    }
    if (grants[needed] !== true) {
      return twirpError(403, "permission_denied", `permissions denied: ${needed} required`);
    }
    const body = await request.json() as Record<string, unknown>;
    if (needed === "roomAdmin" && grants.room !== body.room) {
      return twirpError(403, "permission_denied", "permissions denied: roomAdmin for this room");
    }
    double.calls.push({ service, method, body, grants });

    if (double.mode === "fail") return twirpError(503, "unavailable", "server is shutting down");
    if (double.mode === "hang") {
      await new Promise<void>((resolve) => hanging.add(resolve));
      return twirpError(503, "unavailable", "released");
    }
    const result = answer(`${service}/${method}`, body);
    return result instanceof Response ? result : Response.json(result);
  }

  function answer(call: string, body: Record<string, unknown>): unknown {
    switch (call) {
      case "RoomService/CreateRoom": {
        const name = String(body.name ?? "");
        const existing = double.rooms.get(name);
        if (existing) return existing;
        const room = new Room({
          sid: `RM_${++sid}`,
          name,
          emptyTimeout: Number(body.emptyTimeout ?? 0),
          departureTimeout: Number(body.departureTimeout ?? 0),
          maxParticipants: Number(body.maxParticipants ?? 0),
          metadata: String(body.metadata ?? ""),
          creationTime: BigInt(Math.floor(Date.now() / 1000)),
        }).toJson() as Record<string, unknown>;
        // Kept beside the room, as the server keeps the auto egress configuration.
        double.rooms.set(name, { ...room, egress: body.egress });
        return room;
      }
      case "RoomService/DeleteRoom":
        double.rooms.delete(String(body.room));
        return {};
      case "RoomService/RemoveParticipant":
        // LiveKit answers not_found for a room (or participant) that is not there.
        if (!double.rooms.has(String(body.room))) {
          return twirpError(404, "not_found", "room not found");
        }
        return {};
      case "RoomService/ListRooms": {
        const names = (body.names ?? []) as string[];
        const rooms = [...double.rooms.values()].filter((room) =>
          names.length === 0 || names.includes(String(room.name))
        ).map(({ egress: _egress, ...room }) => room);
        return { rooms };
      }
      case "Egress/StartParticipantEgress": {
        const egressId = `EG_${++sid}`;
        const info = new EgressInfo({
          egressId,
          roomName: String(body.roomName),
          status: EgressStatus.EGRESS_STARTING,
          startedAt: BigInt(Date.now()) * 1_000_000n,
        }).toJson() as Record<string, unknown>;
        double.egresses.set(egressId, { ...info, request: body });
        return info;
      }
      case "Egress/ListEgress": {
        const items = [...double.egresses.values()].filter((item) =>
          (!body.roomName || item.roomName === body.roomName) &&
          (!body.egressId || item.egressId === body.egressId)
        ).map(({ request: _request, ...item }) => item);
        return { items };
      }
      case "Egress/StopEgress": {
        const item = double.egresses.get(String(body.egressId));
        if (!item) return twirpError(404, "not_found", "egress not found");
        item.status = "EGRESS_ENDING";
        return item;
      }
    }
    return {};
  }

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handle);
  double.url = `http://127.0.0.1:${server.addr.port}`;
  double.env = { LIVEKIT_URL: double.url, LIVEKIT_API_KEY: apiKey, LIVEKIT_API_SECRET: apiSecret };
  return double;
}
