/** The dispatch table: one module per LiveKit event that changes anything. */
import { egressReport } from "./events/egress.ts";
import { participantJoined } from "./events/participant_joined.ts";
import { participantLeft } from "./events/participant_left.ts";
import { roomFinished } from "./events/room_finished.ts";
import { trackPublished } from "./events/track_published.ts";
import type { EventHandler } from "./events/types.ts";

/** LiveKit's webhook event names (WebhookEventNames in livekit-server-sdk). */
export type WebhookEventName =
  | "room_started"
  | "room_finished"
  | "participant_joined"
  | "participant_left"
  | "participant_connection_aborted"
  | "track_published"
  | "track_unpublished"
  | "egress_started"
  | "egress_updated"
  | "egress_ended"
  | "ingress_started"
  | "ingress_ended";

/** Events that change state; every other event is acknowledged and logged as ignored. */
export const DISPATCH: Partial<Record<WebhookEventName, EventHandler>> = {
  room_finished: roomFinished,
  participant_joined: participantJoined,
  participant_left: participantLeft,
  participant_connection_aborted: participantLeft,
  track_published: trackPublished,
  egress_started: egressReport,
  egress_updated: egressReport,
  egress_ended: egressReport,
};
