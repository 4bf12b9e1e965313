/**
 * `<StreamList>`: the live streams a signed-in guardian may see (from `streams`), each with
 * its recordings, and a `<StreamViewer>` for the one chosen.
 */
import { useEffect, useMemo, useState } from "react";
import { createFunctionsClient, type FunctionsClient } from "./api.ts";
import type { RecordingJson, SessionJson } from "./contract.ts";
import { describeFailure } from "./messages.ts";
import { RecordingPlayer } from "./recording_player.tsx";
import { StreamViewer } from "./stream_viewer.tsx";
import { recordingStatusText } from "./watch_view.tsx";

/** Props of {@linkcode StreamList}. */
export interface StreamListProps {
  /** The functions' base URL, such as `https://<project>.supabase.co/functions/v1`. */
  functionsUrl: string;
  /** The signed-in user's Supabase access token. */
  accessToken: string;
  /** How often the list is read again, in milliseconds. @default 15000 */
  refreshMs?: number;
}

interface Entry {
  session: SessionJson;
  recordings: RecordingJson[];
}

/** The caller's visible live streams, each with its recordings. */
export function StreamList(props: StreamListProps) {
  const { functionsUrl, accessToken } = props;
  const client = useMemo(
    () => createFunctionsClient(functionsUrl, { credentials: { accessToken } }),
    [functionsUrl, accessToken],
  );
  const [entries, setEntries] = useState<Entry[]>();
  const [problem, setProblem] = useState<string>();
  const [watching, setWatching] = useState<string>();
  const refreshMs = props.refreshMs ?? 15_000;

  useEffect(() => {
    let current = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    async function load() {
      try {
        const next = await readEntries(client);
        if (!current) return;
        setEntries(next);
        setProblem(undefined);
      } catch (error) {
        if (current) setProblem(describeFailure(error));
      }
      if (current) timer = setTimeout(load, refreshMs);
    }
    void load();
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [client, refreshMs]);

  const status = problem ??
    (entries === undefined
      ? "Loading live streams…"
      : entries.length === 0
      ? "Nobody is streaming right now."
      : `${entries.length} live stream${entries.length === 1 ? "" : "s"}.`);

  return (
    <section className="vsv-stream-list" aria-label="Live streams">
      <p role="status" className="vsv-status">{status}</p>
      <ul className="vsv-list">
        {(entries ?? []).map(({ session, recordings }) => (
          <li key={session.id} className="vsv-list-item">
            <h3 className="vsv-title">
              {session.title ?? "Live stream"} {session.status === "live"
                ? <span className="vsv-badge vsv-badge-live">● LIVE</span>
                : <span className="vsv-badge">STARTING</span>}
            </h3>
            <span className="vsv-viewers">{session.viewers.current} watching</span>
            {watching === session.id
              ? (
                <StreamViewer
                  functionsUrl={functionsUrl}
                  accessToken={accessToken}
                  sessionId={session.id}
                />
              )
              : (
                <button
                  type="button"
                  className="vsv-button"
                  onClick={() => setWatching(session.id)}
                >
                  Watch {session.title ?? "this stream"}
                </button>
              )}
            <SessionRecordings client={client} recordings={recordings} />
          </li>
        ))}
      </ul>
    </section>
  );
}

function SessionRecordings(props: { client: FunctionsClient; recordings: RecordingJson[] }) {
  const [playing, setPlaying] = useState<string>();
  const shown = props.recordings.filter((recording) => recording.status !== "deleted");
  if (shown.length === 0) return null;
  return (
    <ul className="vsv-list" aria-label="Recordings">
      {shown.map((recording, index) => (
        <li key={recording.id}>
          Recording {index + 1}: {recordingStatusText(recording, true)}
          {recording.status === "ready" && playing !== recording.id && (
            <button
              type="button"
              className="vsv-button"
              onClick={() => setPlaying(recording.id)}
            >
              Play recording {index + 1}
            </button>
          )}
          {playing === recording.id && (
            <RecordingPlayer client={props.client} recordingId={recording.id} />
          )}
        </li>
      ))}
    </ul>
  );
}

async function readEntries(client: FunctionsClient): Promise<Entry[]> {
  const sessions = await client.liveStreams();
  return await Promise.all(sessions.map(async (session) => {
    try {
      return await client.sessionDetails({ sessionId: session.id });
    } catch {
      return { session, recordings: [] };
    }
  }));
}
