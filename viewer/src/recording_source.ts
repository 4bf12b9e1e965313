/**
 * Where the recording player gets its URL: a signed URL from `recording-url`, valid for a few
 * minutes. When playback fails (the URL expired while paused, say), it asks for a fresh one
 * once; a second failure is final, so a broken file cannot loop.
 */
import type { RecordingJson } from "./contract.ts";

/** A signed URL and the recording it plays. */
export interface RecordingUrl {
  url: string;
  expiresAt: string;
  recording: RecordingJson;
}

/** The player's source. */
export interface RecordingSource {
  /** The first URL. */
  load(): Promise<RecordingUrl>;
  /** A fresh URL after a playback error, or `undefined` when one was already fetched. */
  recover(): Promise<RecordingUrl | undefined>;
}

/** Creates a source over `fetchUrl` (the `recording-url` call). */
export function createRecordingSource(fetchUrl: () => Promise<RecordingUrl>): RecordingSource {
  let recovered = false;
  return {
    load: () => fetchUrl(),
    async recover() {
      if (recovered) return undefined;
      recovered = true;
      return await fetchUrl();
    },
  };
}
