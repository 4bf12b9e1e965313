/**
 * `<StreamViewer>`: one session, live while it is live and its recordings once it ended. The
 * host app passes its Supabase access token (and the session id), the standalone page a watch
 * link; livekit-client is loaded only when the view joins.
 */
import { useEffect, useMemo } from "react";
import { createFunctionsClient } from "./api.ts";
import { browserNetwork, browserTimers } from "./browser_env.ts";
import type { LiveKitRoomAdapter } from "./livekit_room.ts";
import { createWatchMachine, type WatchState } from "./watch_machine.ts";
import { WatchView } from "./watch_view.tsx";

/** Props of {@linkcode StreamViewer}. */
export interface StreamViewerProps {
  /** The functions' base URL, such as `https://<project>.supabase.co/functions/v1`. */
  functionsUrl: string;
  /** The signed-in user's Supabase access token. */
  accessToken?: string;
  /** A watch link token, for viewers who came from an email. */
  link?: string;
  /** The session to watch; required with `accessToken`, implied by a `link`. */
  sessionId?: string;
  /** Called with every state change, for host apps that track it. */
  onStateChange?: (state: WatchState) => void;
}

/** Watches one session live, then lists (and with an access token plays) its recordings. */
export function StreamViewer(props: StreamViewerProps) {
  const { functionsUrl, accessToken, link, sessionId } = props;
  const client = useMemo(
    () => createFunctionsClient(functionsUrl, { credentials: { accessToken, link } }),
    [functionsUrl, accessToken, link],
  );
  const machine = useMemo(
    () =>
      createWatchMachine<LiveKitRoomAdapter>({
        backend: {
          grant: () => client.livekitToken({ sessionId }),
          details: () => client.sessionDetails({ sessionId }),
        },
        createRoom: async () => (await import("./livekit_room.ts")).createLiveKitRoom(),
        timers: browserTimers,
        network: browserNetwork,
      }),
    [client, sessionId],
  );
  const { onStateChange } = props;
  useEffect(() => onStateChange && machine.subscribe(onStateChange), [machine, onStateChange]);
  useEffect(() => {
    machine.start();
    return () => void machine.stop();
  }, [machine]);
  // Recording URLs need an account (or a recording link): a watch link alone lists them.
  return <WatchView machine={machine} recordingsClient={accessToken ? client : undefined} />;
}
