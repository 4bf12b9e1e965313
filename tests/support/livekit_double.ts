/**
 * LiveKit for the function tests: the embedded stand-in of `dev/livekit_standin.ts`, the same one
 * `deno task dev` runs without Go and the one the LiveKit contract suite (`tests/livekit/`) holds
 * to the real `livekit-server`, so what the function tests rely on is what the real server does
 * (a missing grant is `401`, DeleteRoom and RemoveParticipant of what is not there `404`,
 * egress only in a room that exists). It posts no webhooks here; `url` and `LIVEKIT_URL` are its
 * HTTP address, and `mode` makes it fail (`503`) or hang.
 */
import { type LiveKitStandIn, startLiveKitStandIn } from "../../dev/livekit_standin.ts";

export type { LiveKitCall, LiveKitMode } from "../../dev/livekit_standin.ts";

/** A running stand-in, as the function tests use it. */
export interface LiveKitDouble extends LiveKitStandIn {
  /** Stops it (the stand-in's `stop`). */
  close(): Promise<void>;
}

/** Starts the stand-in on 127.0.0.1 with a fresh key pair and no webhooks. */
export function startLiveKitDouble(): LiveKitDouble {
  const standIn = startLiveKitStandIn();
  const env = { ...standIn.env, LIVEKIT_URL: standIn.httpUrl };
  return Object.assign(standIn, { url: standIn.httpUrl, env, close: () => standIn.stop() });
}
