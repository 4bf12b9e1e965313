/**
 * Plays one recording from a signed URL (the bucket serves HTTP Range, so seeking works),
 * asks for a fresh URL once when playback fails, and offers a download.
 */
import { useEffect, useMemo, useRef, useState } from "react";
import type { FunctionsClient } from "./api.ts";
import { describeFailure } from "./messages.ts";
import { createRecordingSource, type RecordingUrl } from "./recording_source.ts";

/** Props of {@linkcode RecordingPlayer}. */
export interface RecordingPlayerProps {
  /** The client of the functions, with the caller's credentials. */
  client: FunctionsClient;
  /** The recording; omitted when the client's link (a recording link) names it. */
  recordingId?: string;
  /** Heading level text above the player. @default "Recording" */
  title?: string;
}

type PlayerState =
  | { kind: "loading" }
  | { kind: "ready"; source: RecordingUrl; attempt: number }
  | { kind: "failed"; message: string };

/** A recording with seeking, one URL refresh on failure, and a download link. */
export function RecordingPlayer(props: RecordingPlayerProps) {
  const { client, recordingId } = props;
  const source = useMemo(
    () => createRecordingSource(() => client.recordingUrl({ recordingId })),
    [client, recordingId],
  );
  const [state, setState] = useState<PlayerState>({ kind: "loading" });
  const video = useRef<HTMLVideoElement>(null);
  const resumeAt = useRef(0);

  useEffect(() => {
    let current = true;
    source.load().then(
      (loaded) => current && setState({ kind: "ready", source: loaded, attempt: 0 }),
      (error) => current && setState({ kind: "failed", message: describeFailure(error) }),
    );
    return () => {
      current = false;
    };
  }, [source]);

  async function onError() {
    resumeAt.current = video.current?.currentTime ?? 0;
    try {
      const fresh = await source.recover();
      if (!fresh) {
        setState({ kind: "failed", message: "This recording cannot be played right now." });
        return;
      }
      // A new element for the new URL, even when the fresh URL happens to equal the old one.
      setState({ kind: "ready", source: fresh, attempt: 1 });
    } catch (error) {
      setState({ kind: "failed", message: describeFailure(error) });
    }
  }

  function onLoadedMetadata() {
    if (video.current && resumeAt.current > 0) {
      video.current.currentTime = resumeAt.current;
      resumeAt.current = 0;
    }
  }

  const status = state.kind === "loading"
    ? "Loading the recording…"
    : state.kind === "failed"
    ? state.message
    : `Recording ready${durationText(state.source.recording.durationSeconds)}.`;

  return (
    <section className="vsv-recording" aria-label={props.title ?? "Recording"}>
      <p role="status" className="vsv-status">{status}</p>
      <div className="vsv-stage">
        {state.kind === "ready" && (
          <video
            key={state.attempt}
            ref={video}
            className="vsv-video"
            src={state.source.url}
            controls
            playsInline
            preload="metadata"
            onError={onError}
            onLoadedMetadata={onLoadedMetadata}
            aria-label="Recording player"
          />
        )}
      </div>
      {state.kind === "ready" && (
        <p className="vsv-actions">
          <a
            className="vsv-button"
            href={state.source.url}
            download
            rel="noreferrer noopener"
          >
            Download the recording
          </a>
        </p>
      )}
    </section>
  );
}

function durationText(seconds: number | null): string {
  if (seconds === null) return "";
  const total = Math.round(seconds);
  const minutes = Math.floor(total / 60);
  const rest = String(total % 60).padStart(2, "0");
  return `, ${minutes}:${rest} long`;
}
