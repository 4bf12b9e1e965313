/**
 * The {@linkcode RoomAdapter} over livekit-client, subscribe-only. livekit-client is imported
 * here on first use, so the page shell and the non-live pages never download it.
 */
import type { DisconnectReason, RoomAdapter, RoomEvent } from "./room.ts";

/** A LiveKit room the live view can show. */
export interface LiveKitRoomAdapter extends RoomAdapter {
  /**
   * Plays the streamer's video and audio in these elements, now and after any republish;
   * returns a function that detaches them.
   */
  attach(video: HTMLVideoElement, audio: HTMLAudioElement): () => void;
  /** Starts audio playback; call it from a click (browsers' autoplay rules). */
  startAudio(): Promise<void>;
}

/** Loads livekit-client and makes a room for one join. */
export async function createLiveKitRoom(): Promise<LiveKitRoomAdapter> {
  const lk = await import("livekit-client");
  const room = new lk.Room({ adaptiveStream: true, dynacast: false });
  const listeners = new Set<(event: RoomEvent) => void>();
  let sinks: { video: HTMLVideoElement; audio: HTMLAudioElement } | undefined;

  function emit(event: RoomEvent): void {
    for (const listener of [...listeners]) listener(event);
  }

  function remoteTracks(kind: "video" | "audio") {
    const tracks = [];
    for (const participant of room.remoteParticipants.values()) {
      for (const publication of participant.trackPublications.values()) {
        if (publication.kind === kind && publication.track && publication.isSubscribed) {
          tracks.push(publication.track);
        }
      }
    }
    return tracks;
  }

  function attachAll(): void {
    if (!sinks) return;
    remoteTracks("video").at(-1)?.attach(sinks.video);
    for (const track of remoteTracks("audio")) track.attach(sinks.audio);
  }

  function reportVideo(): void {
    emit({ type: "streamer_video", present: remoteTracks("video").length > 0 });
  }

  room
    .on(lk.RoomEvent.TrackSubscribed, () => {
      attachAll();
      reportVideo();
    })
    .on(lk.RoomEvent.TrackUnsubscribed, (track) => {
      track.detach();
      reportVideo();
    })
    .on(lk.RoomEvent.Reconnecting, () => emit({ type: "reconnecting" }))
    .on(lk.RoomEvent.Reconnected, () => {
      emit({ type: "reconnected" });
      reportVideo();
    })
    .on(lk.RoomEvent.Disconnected, (reason) => {
      emit({ type: "disconnected", reason: disconnectReason(lk.DisconnectReason, reason) });
    });

  return {
    async connect(grant) {
      await room.connect(grant.url, grant.token, { autoSubscribe: true });
      attachAll();
      reportVideo();
    },
    async disconnect() {
      await room.disconnect(true);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    attach(video, audio) {
      sinks = { video, audio };
      attachAll();
      return () => {
        for (const track of [...remoteTracks("video"), ...remoteTracks("audio")]) track.detach();
        sinks = undefined;
      };
    },
    async startAudio() {
      await room.startAudio();
    },
  };
}

function disconnectReason(
  reasons: typeof import("livekit-client").DisconnectReason,
  reason: number | undefined,
): DisconnectReason {
  switch (reason) {
    case reasons.CLIENT_INITIATED:
      return "client_initiated";
    case reasons.DUPLICATE_IDENTITY:
      return "duplicate_identity";
    case reasons.PARTICIPANT_REMOVED:
      return "participant_removed";
    case reasons.ROOM_DELETED:
    case reasons.ROOM_CLOSED:
      return "room_deleted";
    default:
      return "connection_lost";
  }
}
