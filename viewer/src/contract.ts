/** The objects of the HTTP contract (`../shared/API.md`) that the viewer reads. */

/** A streaming session. */
export interface SessionJson {
  id: string;
  streamerId: string;
  title: string | null;
  status: "starting" | "live" | "ended";
  endReason: null | "streamer_ended" | "room_finished" | "abandoned" | "failed";
  roomName: string;
  createdAt: string;
  startedAt: string | null;
  endedAt: string | null;
  durationSeconds: number | null;
  viewers: { current: number; peak: number; total: number };
  recording: {
    enabled: boolean;
    status: null | "pending" | "recording" | "processing" | "ready" | "failed";
  };
}

/** A recording of a session. */
export interface RecordingJson {
  id: string;
  sessionId: string;
  source: "egress" | "upload";
  status: "pending" | "recording" | "processing" | "uploading" | "ready" | "failed" | "deleted";
  contentType: string;
  sizeBytes: number | null;
  durationSeconds: number | null;
  createdAt: string;
  readyAt: string | null;
  error: string | null;
}

/** Which emails a guardian gets. */
export interface NotifyChoices {
  streamStarted: boolean;
  streamEnded: boolean;
  recordingReady: boolean;
}

/** A guardian, as the link functions return it. */
export interface GuardianJson {
  id: string;
  email: string;
  name: string | null;
  role?: "primary" | "viewer";
  status: "awaiting_approval" | "pending" | "active" | "revoked";
  notify: NotifyChoices;
  createdAt: string;
}

/** A LiveKit grant. */
export interface LiveKitGrantJson {
  url: string;
  token: string;
  roomName: string;
  identity: string;
  expiresAt: string;
  canPublish: boolean;
}
