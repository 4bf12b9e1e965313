/**
 * The live view's state machine, free of any UI framework and of the media library:
 * waiting for the streamer → live → reconnecting → ended (with the session's recordings), or
 * error with a typed problem. It gets a fresh grant from `livekit-token` before every join
 * and rejoin, reads viewer counts from `streams` (never from the room), and rejoins when the
 * network comes back. Views render {@linkcode WatchState}; `describeWatchState` gives the one
 * sentence their status region announces.
 */
import { ApiError, type SessionDetails } from "./api.ts";
import type { LiveKitGrantJson, RecordingJson, SessionJson } from "./contract.ts";
import type { NetworkStatus, RoomAdapter, RoomEvent, Timers } from "./room.ts";

/** Where the live view is. */
export type WatchPhase = "connecting" | "waiting" | "live" | "reconnecting" | "ended" | "error";

/** Why the live view stopped, each with its own message and next step. */
export type WatchProblem =
  /** The same guardian started watching on another device or tab. */
  | "duplicate_identity"
  /** Access was removed while watching. */
  | "removed"
  /** The link is invalid, expired or revoked. */
  | "invalid_link"
  /** The signed-in account's token was refused. */
  | "signed_out"
  /** No such session, or not one this viewer may see. */
  | "not_found"
  /** The device is offline; the view rejoins when it is back. */
  | "offline"
  /** Too many attempts; the view retries after the server's delay. */
  | "rate_limited"
  /** The service or LiveKit failed; the view retries with backoff. */
  | "unavailable";

/** What the live view shows. */
export interface WatchState {
  phase: WatchPhase;
  /** The session as last read from the backend. */
  session?: SessionJson;
  /** People watching now, from the backend's count (`streams`). */
  viewers?: number;
  /** The session's recordings, once it ended. */
  recordings: RecordingJson[];
  /** Set in phase `error`. */
  problem?: WatchProblem;
  /** Seconds until the next automatic attempt, when one is scheduled. */
  retryInSeconds?: number;
}

/** What the machine asks of the backend; `createFunctionsClient` provides it. */
export interface WatchBackend {
  /** A fresh subscribe-only grant and the session (`livekit-token`). */
  grant(): Promise<{ livekit: LiveKitGrantJson; session: SessionJson }>;
  /** The session and its recordings (`streams`). */
  details(): Promise<SessionDetails>;
}

/** Options of {@linkcode createWatchMachine}. */
export interface WatchMachineOptions<R extends RoomAdapter> {
  backend: WatchBackend;
  /** Makes a room for one join; the LiveKit one is imported on first call. */
  createRoom: () => R | Promise<R>;
  timers: Timers;
  network: NetworkStatus;
  /** How often the viewer count and the session's state are read. @default 10000 */
  pollMs?: number;
  /** First delay of the retry backoff, doubled per failure. @default 1000 */
  retryBaseMs?: number;
  /** Longest delay of the retry backoff. @default 30000 */
  retryMaxMs?: number;
}

/** A running live view. */
export interface WatchMachine<R extends RoomAdapter> {
  state(): WatchState;
  /** Calls `listener` with every new state until the returned function is called. */
  subscribe(listener: (state: WatchState) => void): () => void;
  /** Starts: grant, join, polling. */
  start(): void;
  /** Tries again now (the "Watch here" or "Try again" button). */
  retry(): void;
  /** Leaves the room and stops every timer. */
  stop(): Promise<void>;
  /** The room joined now, for the view to attach media to. */
  room(): R | undefined;
}

const FIRST_POLL_MS = 2000;
const SETTLED_RECORDING = new Set(["ready", "failed", "deleted"]);

/** Creates the live view's state machine. */
export function createWatchMachine<R extends RoomAdapter>(
  options: WatchMachineOptions<R>,
): WatchMachine<R> {
  const { backend, timers, network } = options;
  const pollMs = options.pollMs ?? 10_000;
  const retryBaseMs = options.retryBaseMs ?? 1000;
  const retryMaxMs = options.retryMaxMs ?? 30_000;

  let current: WatchState = { phase: "connecting", recordings: [] };
  const listeners = new Set<(state: WatchState) => void>();
  let room: R | undefined;
  let unsubscribeRoom: (() => void) | undefined;
  let unsubscribeNetwork: (() => void) | undefined;
  let cancelPoll: (() => void) | undefined;
  let cancelRetry: (() => void) | undefined;
  let streamerVideo = false;
  let failures = 0;
  /** Bumped on every join and on stop, so late answers of an older attempt are dropped. */
  let attempt = 0;
  let stopped = false;

  function set(next: Partial<WatchState>): void {
    current = { ...current, ...next };
    if (current.phase !== "error") current.problem = undefined;
    for (const listener of listeners) listener(current);
  }

  function connectedPhase(): WatchPhase {
    return streamerVideo ? "live" : "waiting";
  }

  async function leaveRoom(): Promise<void> {
    unsubscribeRoom?.();
    unsubscribeRoom = undefined;
    const leaving = room;
    room = undefined;
    streamerVideo = false;
    await leaving?.disconnect().catch(() => {});
  }

  function clearRetry(): void {
    cancelRetry?.();
    cancelRetry = undefined;
  }

  function fail(problem: WatchProblem, retryMs?: number): void {
    clearRetry();
    cancelPoll?.();
    cancelPoll = undefined;
    void leaveRoom();
    attempt++;
    if (retryMs === undefined) {
      set({ phase: "error", problem, retryInSeconds: undefined });
      return;
    }
    set({ phase: "error", problem, retryInSeconds: Math.ceil(retryMs / 1000) });
    cancelRetry = timers.after(retryMs, () => {
      cancelRetry = undefined;
      join();
    });
  }

  function backoffMs(): number {
    failures++;
    return Math.min(retryMaxMs, retryBaseMs * 2 ** (failures - 1));
  }

  /** Turns a failed call into the state it means. */
  function failWith(error: unknown): void {
    if (!(error instanceof ApiError)) return fail("unavailable", backoffMs());
    if (error.code === "session_ended") return void showEnded();
    if (error.code === "invalid_link") return fail("invalid_link");
    if (error.code === "unauthorized") return fail("signed_out");
    if (error.code === "not_found" || error.code === "forbidden") return fail("not_found");
    if (error.code === "network_error") {
      return network.online() ? fail("unavailable", backoffMs()) : fail("offline");
    }
    if (error.code === "rate_limited") {
      return fail("rate_limited", (error.retryAfterSeconds ?? 30) * 1000);
    }
    return fail("unavailable", backoffMs());
  }

  async function showEnded(details?: SessionDetails): Promise<void> {
    const mine = ++attempt;
    clearRetry();
    cancelPoll?.();
    cancelPoll = undefined;
    await leaveRoom();
    set({ phase: "ended", retryInSeconds: undefined });
    try {
      const read = details ?? await backend.details();
      if (mine !== attempt) return;
      set({ session: read.session, viewers: 0, recordings: visibleRecordings(read.recordings) });
      scheduleRecordingsPoll(mine, read);
    } catch {
      // The ended state stands; the recordings list stays as it was.
    }
  }

  /** After the end, recordings move from recording to ready: keep reading until they settle. */
  function scheduleRecordingsPoll(mine: number, details: SessionDetails): void {
    const unsettled = details.recordings.some((r) => !SETTLED_RECORDING.has(r.status)) ||
      (details.session.recording.enabled && details.recordings.length === 0 &&
        details.session.recording.status !== "failed");
    if (!unsettled) return;
    cancelPoll = timers.after(pollMs, async () => {
      cancelPoll = undefined;
      try {
        const read = await backend.details();
        if (mine !== attempt) return;
        set({ session: read.session, recordings: visibleRecordings(read.recordings) });
        scheduleRecordingsPoll(mine, read);
      } catch {
        if (mine === attempt) scheduleRecordingsPoll(mine, details);
      }
    });
  }

  function schedulePoll(mine: number, delayMs = pollMs): void {
    cancelPoll?.();
    cancelPoll = timers.after(delayMs, async () => {
      cancelPoll = undefined;
      try {
        const read = await backend.details();
        if (mine !== attempt) return;
        if (read.session.status === "ended") return void showEnded(read);
        set({ session: read.session, viewers: read.session.viewers.current });
      } catch (error) {
        if (mine !== attempt) return;
        // A count that cannot be read is not worth leaving the stream for, but a dead link is.
        if (error instanceof ApiError && error.code === "invalid_link") return failWith(error);
      }
      if (mine === attempt) schedulePoll(mine);
    });
  }

  function onRoomEvent(mine: number, event: RoomEvent): void {
    if (mine !== attempt) return;
    switch (event.type) {
      case "streamer_video":
        streamerVideo = event.present;
        if (current.phase === "live" || current.phase === "waiting") {
          set({ phase: connectedPhase() });
        }
        // The streamer's video stopped: it may have ended the session.
        if (!event.present) void refreshAfterStreamerLeft(mine);
        return;
      case "reconnecting":
        set({ phase: "reconnecting" });
        return;
      case "reconnected":
        failures = 0;
        set({ phase: connectedPhase() });
        return;
      case "disconnected":
        switch (event.reason) {
          case "client_initiated":
            return;
          case "duplicate_identity":
            return fail("duplicate_identity");
          case "participant_removed":
            return fail("removed");
          case "room_deleted":
            return void showEnded();
          case "connection_lost":
            return network.online() ? fail("unavailable", backoffMs()) : fail("offline");
        }
    }
  }

  async function refreshAfterStreamerLeft(mine: number): Promise<void> {
    try {
      const read = await backend.details();
      if (mine === attempt && read.session.status === "ended") await showEnded(read);
    } catch {
      // The regular poll tries again.
    }
  }

  async function join(): Promise<void> {
    if (stopped) return;
    const mine = ++attempt;
    clearRetry();
    await leaveRoom();
    if (mine !== attempt) return;
    set({ phase: "connecting", retryInSeconds: undefined });
    let grant: { livekit: LiveKitGrantJson; session: SessionJson };
    try {
      grant = await backend.grant();
    } catch (error) {
      if (mine === attempt) failWith(error);
      return;
    }
    if (mine !== attempt) return;
    set({ session: grant.session, viewers: grant.session.viewers.current });
    let joined: R;
    try {
      joined = await options.createRoom();
      if (mine !== attempt) return;
      room = joined;
      unsubscribeRoom = joined.subscribe((event) => onRoomEvent(mine, event));
      await joined.connect({ url: grant.livekit.url, token: grant.livekit.token });
    } catch {
      if (mine === attempt) {
        network.online() ? fail("unavailable", backoffMs()) : fail("offline");
      }
      return;
    }
    if (mine !== attempt) return;
    failures = 0;
    set({ phase: connectedPhase() });
    // Soon after joining, so the count includes this viewer; then at the regular pace.
    schedulePoll(mine, Math.min(pollMs, FIRST_POLL_MS));
  }

  function onNetwork(online: boolean): void {
    if (stopped) return;
    if (online) {
      if (current.phase === "error" && current.problem === "offline") void join();
      return;
    }
    // In a room, the room reports what going offline does; outside one, say so now and
    // rejoin when the network is back instead of retrying into the void.
    const retryScheduled = current.phase === "error" && current.retryInSeconds !== undefined;
    if (current.phase === "connecting" || retryScheduled) fail("offline");
  }

  return {
    state: () => current,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    start() {
      stopped = false;
      unsubscribeNetwork ??= network.subscribe(onNetwork);
      if (!network.online()) return fail("offline");
      void join();
    },
    retry() {
      failures = 0;
      stopped = false;
      void join();
    },
    async stop() {
      stopped = true;
      attempt++;
      clearRetry();
      cancelPoll?.();
      cancelPoll = undefined;
      unsubscribeNetwork?.();
      unsubscribeNetwork = undefined;
      await leaveRoom();
    },
    room: () => room,
  };
}

/** Recordings worth listing: deleted ones are gone for everybody. */
function visibleRecordings(recordings: RecordingJson[]): RecordingJson[] {
  return recordings.filter((recording) => recording.status !== "deleted");
}

/** The one sentence the status region announces for a state. */
export function describeWatchState(state: WatchState): string {
  switch (state.phase) {
    case "connecting":
      return "Connecting to the stream…";
    case "waiting":
      return "Waiting for the streamer to start.";
    case "live":
      return state.viewers === undefined
        ? "Live."
        : `Live. ${state.viewers} ${state.viewers === 1 ? "person" : "people"} watching.`;
    case "reconnecting":
      return "Connection lost. Reconnecting…";
    case "ended": {
      const ready = state.recordings.filter((r) => r.status === "ready").length;
      const pending = state.recordings.length - ready;
      if (ready > 0) {
        return `The stream has ended. ${ready} recording${ready === 1 ? "" : "s"} ready.`;
      }
      if (pending > 0 || state.session?.recording.enabled) {
        return "The stream has ended. The recording is being prepared.";
      }
      return "The stream has ended.";
    }
    case "error":
      return describeProblem(state.problem ?? "unavailable", state.retryInSeconds);
  }
}

/** The message and next step for a problem. */
export function describeProblem(problem: WatchProblem, retryInSeconds?: number): string {
  const later = retryInSeconds === undefined
    ? ""
    : ` Trying again in ${retryInSeconds} second${retryInSeconds === 1 ? "" : "s"}.`;
  switch (problem) {
    case "duplicate_identity":
      return "You started watching on another device, so this one stopped. Choose “Watch here” to watch on this device instead.";
    case "removed":
      return "Your access to this stream was removed. Ask the child's parent if you think this is a mistake.";
    case "invalid_link":
      return "This link has expired or is no longer active. Open the newest email about this stream, or ask the child's parent for a new invitation.";
    case "signed_out":
      return "You are signed out. Sign in again to watch.";
    case "not_found":
      return "This stream does not exist or you may not watch it.";
    case "offline":
      return "You are offline. The stream will reconnect when your connection is back.";
    case "rate_limited":
      return `Too many attempts.${later || " Try again in a moment."}`;
    case "unavailable":
      return `The stream cannot be reached right now.${later}`;
  }
}
