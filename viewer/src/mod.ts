/**
 * The viewer as an npm package for the main web app: `<StreamViewer>`, `<StreamList>` and
 * the parts they are made of. `react`, `react-dom` and `livekit-client` are peer dependencies;
 * livekit-client is imported only when a live view joins.
 */
export { StreamViewer, type StreamViewerProps } from "./stream_viewer.tsx";
export { StreamList, type StreamListProps } from "./stream_list.tsx";
export { RecordingPlayer, type RecordingPlayerProps } from "./recording_player.tsx";
export { ApiError, createFunctionsClient, type Credentials, type FunctionsClient } from "./api.ts";
export type { GuardianJson, NotifyChoices, RecordingJson, SessionJson } from "./contract.ts";
export {
  createWatchMachine,
  describeWatchState,
  type WatchMachine,
  type WatchPhase,
  type WatchProblem,
  type WatchState,
} from "./watch_machine.ts";
export type { DisconnectReason, NetworkStatus, RoomAdapter, RoomEvent, Timers } from "./room.ts";
