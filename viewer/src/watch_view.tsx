/**
 * The live view over the watch state machine: a 16:9 stage whose `<video>` is always in the
 * page (never `display: none`), muted until the viewer taps "Unmute"; a LIVE badge in words; the
 * backend's viewer count; one status region; and, once the stream ended, its recordings.
 */
import { useEffect, useRef, useState } from "react";
import type { FunctionsClient } from "./api.ts";
import type { RecordingJson } from "./contract.ts";
import type { LiveKitRoomAdapter } from "./livekit_room.ts";
import { RecordingPlayer } from "./recording_player.tsx";
import { useStore } from "./use_store.ts";
import { describeWatchState, type WatchMachine, type WatchState } from "./watch_machine.ts";

/** Props of {@linkcode WatchView}. */
export interface WatchViewProps {
  machine: WatchMachine<LiveKitRoomAdapter>;
  /** Plays recordings once the stream ended; without it they are listed only. */
  recordingsClient?: FunctionsClient;
}

/** The live view. */
export function WatchView(props: WatchViewProps) {
  const { machine } = props;
  const state = useStore(machine);
  const video = useRef<HTMLVideoElement>(null);
  const audio = useRef<HTMLAudioElement>(null);
  const [muted, setMuted] = useState(true);
  const room = machine.room();

  useEffect(() => {
    if (!room || !video.current || !audio.current) return;
    return room.attach(video.current, audio.current);
  }, [room]);

  async function toggleSound() {
    const element = audio.current;
    if (!element) return;
    if (!muted) {
      element.muted = true;
      setMuted(true);
      return;
    }
    element.muted = false;
    setMuted(false);
    try {
      await room?.startAudio();
      await element.play();
    } catch {
      // Playback is retried by the browser once a track arrives; the button stays honest.
    }
  }

  const showStage = state.phase !== "ended";
  return (
    <section className="vsv-watch" aria-label="Live stream">
      <header className="vsv-watch-header">
        <h2 className="vsv-title">{state.session?.title ?? "Live stream"}</h2>
        <Badge state={state} />
        {state.viewers !== undefined && state.phase !== "ended" && (
          <span className="vsv-viewers">
            {state.viewers} watching
          </span>
        )}
      </header>
      <p role="status" className="vsv-status" data-phase={state.phase}>
        {describeWatchState(state)}
      </p>
      {showStage && (
        <div className="vsv-stage" data-phase={state.phase}>
          <video
            ref={video}
            className="vsv-video"
            autoPlay
            playsInline
            muted
            aria-label="Live video"
          />
          <audio ref={audio} autoPlay muted />
          {state.phase !== "live" && (
            <div className="vsv-overlay" aria-hidden="true">
              {overlayText(state)}
            </div>
          )}
          {state.phase === "live" && (
            <button type="button" className="vsv-button vsv-unmute" onClick={toggleSound}>
              {muted ? "Tap to unmute" : "Mute"}
            </button>
          )}
        </div>
      )}
      <Actions state={state} onRetry={() => machine.retry()} />
      {state.phase === "ended" && (
        <Recordings recordings={state.recordings} client={props.recordingsClient} />
      )}
    </section>
  );
}

function Badge(props: { state: WatchState }) {
  const { phase } = props.state;
  if (phase === "live") return <span className="vsv-badge vsv-badge-live">● LIVE</span>;
  if (phase === "reconnecting") {
    return <span className="vsv-badge vsv-badge-warn">RECONNECTING</span>;
  }
  if (phase === "ended") return <span className="vsv-badge">ENDED</span>;
  return null;
}

function overlayText(state: WatchState): string {
  switch (state.phase) {
    case "connecting":
      return "Connecting…";
    case "waiting":
      return "Waiting for the streamer…";
    case "reconnecting":
      return "Reconnecting…";
    case "error":
      return "Not connected";
    default:
      return "";
  }
}

function Actions(props: { state: WatchState; onRetry: () => void }) {
  const { state } = props;
  if (state.phase !== "error") return null;
  const label = state.problem === "duplicate_identity"
    ? "Watch here"
    : state.problem === "unavailable" || state.problem === "rate_limited" ||
        state.problem === "signed_out"
    ? "Try again now"
    : undefined;
  if (!label) return null;
  return (
    <p className="vsv-actions">
      <button type="button" className="vsv-button" onClick={props.onRetry}>{label}</button>
    </p>
  );
}

function Recordings(props: { recordings: RecordingJson[]; client?: FunctionsClient }) {
  const [playing, setPlaying] = useState<string>();
  if (props.recordings.length === 0) return null;
  return (
    <section className="vsv-recordings" aria-label="Recordings of this stream">
      <h3>Recordings</h3>
      <ul className="vsv-list">
        {props.recordings.map((recording, index) => (
          <li key={recording.id} className="vsv-list-item">
            <span>
              Recording {index + 1}: {recordingStatusText(recording, Boolean(props.client))}
            </span>
            {recording.status === "ready" && props.client && playing !== recording.id && (
              <button
                type="button"
                className="vsv-button"
                onClick={() => setPlaying(recording.id)}
              >
                Play recording {index + 1}
              </button>
            )}
            {playing === recording.id && props.client && (
              <RecordingPlayer
                client={props.client}
                recordingId={recording.id}
                title={`Recording ${index + 1}`}
              />
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}

/** A recording's state in words. */
export function recordingStatusText(recording: RecordingJson, playable: boolean): string {
  switch (recording.status) {
    case "ready":
      return playable ? "ready" : "ready; we email you a link to play it";
    case "failed":
      return "could not be saved";
    case "deleted":
      return "deleted";
    default:
      return "being prepared";
  }
}
