/** Sentences for the contract's error codes, for the pages that act on a link. */
import { ApiError } from "./api.ts";

/** What to tell a person when a call failed. */
export function describeFailure(error: unknown): string {
  if (!(error instanceof ApiError)) return "Something went wrong. Try again in a moment.";
  switch (error.code) {
    case "invalid_link":
      return "This link has expired or is no longer active. Open the newest email you got from us, or ask the child's parent for a new one.";
    case "unauthorized":
      return "You are signed out. Sign in again and retry.";
    case "not_found":
      return "This no longer exists, or you may not see it.";
    case "rate_limited":
      return `Too many attempts. Try again in ${error.retryAfterSeconds ?? 60} seconds.`;
    case "network_error":
      return "You seem to be offline. Check your connection and try again.";
    case "recording_not_ready":
      return "This recording is not ready yet. Try again in a few minutes.";
    case "guardian_decided":
      return "This invitation was already decided, so it cannot be changed here.";
    default:
      return "Something went wrong on our side. Try again in a moment.";
  }
}
