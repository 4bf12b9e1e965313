/**
 * The small surface of a media room that the watch state machine needs. The LiveKit
 * implementation is `livekit_room.ts` (loaded only for live view); tests pass a fake.
 */

/** Why the room let us go, mapped from the media library's own reasons. */
export type DisconnectReason =
  /** The same viewer identity joined elsewhere (another device or tab). */
  | "duplicate_identity"
  /** The server removed us: access was revoked. */
  | "participant_removed"
  /** The room is gone: the streamer ended the session. */
  | "room_deleted"
  /** We left on purpose. */
  | "client_initiated"
  /** The connection was lost for good (network, server restart, failed join). */
  | "connection_lost";

/** What a room reports. */
export type RoomEvent =
  /** The streamer's video can be shown now. */
  | { type: "streamer_video"; present: boolean }
  /** The connection broke and the library is trying to restore it. */
  | { type: "reconnecting" }
  /** The connection is back. */
  | { type: "reconnected" }
  /** The connection ended and will not come back by itself. */
  | { type: "disconnected"; reason: DisconnectReason };

/** A subscribe-only connection to one room. */
export interface RoomAdapter {
  /** Joins with a grant; rejects when the join fails. */
  connect(grant: { url: string; token: string }): Promise<void>;
  /** Leaves; a `disconnected` event with `client_initiated` may follow. */
  disconnect(): Promise<void>;
  /** Calls `listener` for every event until the returned function is called. */
  subscribe(listener: (event: RoomEvent) => void): () => void;
}

/** Timers, injected so tests control time instead of sleeping. */
export interface Timers {
  /** Calls `callback` after `ms`; returns a function that cancels it. */
  after(ms: number, callback: () => void): () => void;
}

/** Whether the device has a network, and when that changes. */
export interface NetworkStatus {
  online(): boolean;
  /** Calls `listener` on every change until the returned function is called. */
  subscribe(listener: (online: boolean) => void): () => void;
}
