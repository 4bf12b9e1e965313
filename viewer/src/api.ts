/**
 * The functions the viewer calls, over `fetch`. A link token travels only in the
 * `x-link-token` header and an access token only in `Authorization`; neither is ever put in a
 * URL. Requests send no Referer. Failures become {@linkcode ApiError}s carrying the contract's
 * error code, so callers branch on codes, never on messages.
 */
import type {
  GuardianJson,
  LiveKitGrantJson,
  NotifyChoices,
  RecordingJson,
  SessionJson,
} from "./contract.ts";

/** Who the viewer acts for: a signed-in account, a link from an email, or both. */
export interface Credentials {
  /** The host app's Supabase access token. */
  accessToken?: string;
  /** A link token from an email (the URL fragment of the standalone page). */
  link?: string;
}

/** An error answered by a function, or `network_error` when none answered. */
export class ApiError extends Error {
  /** HTTP status; `0` when the request never got an answer. */
  readonly status: number;
  /** The contract's error code, such as `invalid_link`; `network_error` without an answer. */
  readonly code: string;
  /** Seconds to wait before retrying, from `Retry-After` on 429 and 503. */
  readonly retryAfterSeconds?: number;
  /** The request id the server answered with, for support. */
  readonly requestId?: string;

  constructor(
    message: string,
    details: { status: number; code: string; retryAfterSeconds?: number; requestId?: string },
  ) {
    super(message);
    this.name = "ApiError";
    this.status = details.status;
    this.code = details.code;
    this.retryAfterSeconds = details.retryAfterSeconds;
    this.requestId = details.requestId;
  }
}

/** Options of {@linkcode createFunctionsClient}. */
export interface FunctionsClientOptions {
  /** Who the requests act for. */
  credentials: Credentials;
  /** The fetch to use. @default globalThis.fetch */
  fetch?: typeof fetch;
}

/** The answer of `streams` for one session. */
export interface SessionDetails {
  session: SessionJson;
  recordings: RecordingJson[];
}

/** The functions the viewer uses, bound to one functions URL and one set of credentials. */
export interface FunctionsClient {
  /** `POST livekit-token`: a fresh subscribe-only grant. */
  livekitToken(
    input?: { sessionId?: string },
  ): Promise<{ livekit: LiveKitGrantJson; session: SessionJson }>;
  /** `GET streams?sessionId=` (or by link): one session and its recordings. */
  sessionDetails(input?: { sessionId?: string }): Promise<SessionDetails>;
  /** `GET streams`: the signed-in caller's visible starting and live sessions. */
  liveStreams(): Promise<SessionJson[]>;
  /** `GET recording-url`: a signed URL valid for a few minutes. */
  recordingUrl(
    input?: { recordingId?: string },
  ): Promise<{ url: string; expiresAt: string; recording: RecordingJson }>;
  /** `POST guardian-consent`: confirms the invitation of the link's guardian. */
  confirmConsent(): Promise<GuardianJson>;
  /** `GET notification-preferences`. */
  preferences(): Promise<GuardianJson>;
  /** `POST notification-preferences`. */
  savePreferences(notify: Partial<NotifyChoices>): Promise<GuardianJson>;
  /** `GET guardian-approval`: who the child invited. */
  approval(): Promise<{ guardian: GuardianJson; streamer: { displayName: string } }>;
  /** `POST guardian-approval`. */
  decideApproval(decision: "approve" | "deny"): Promise<GuardianJson>;
}

/** Builds a client for `functionsUrl`, such as `https://x.supabase.co/functions/v1`. */
export function createFunctionsClient(
  functionsUrl: string,
  options: FunctionsClientOptions,
): FunctionsClient {
  const base = functionsUrl.replace(/\/+$/, "");
  const fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
  const { accessToken, link } = options.credentials;

  async function call<T>(
    name: string,
    init: { method?: "GET" | "POST"; query?: Record<string, string | undefined>; body?: unknown },
  ): Promise<T> {
    const url = new URL(`${base}/${name}`);
    for (const [key, value] of Object.entries(init.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, value);
    }
    const headers: Record<string, string> = { accept: "application/json" };
    if (accessToken) headers.authorization = `Bearer ${accessToken}`;
    if (link) headers["x-link-token"] = link;
    if (init.body !== undefined) headers["content-type"] = "application/json";
    let response: Response;
    try {
      response = await fetchImpl(url, {
        method: init.method ?? "GET",
        headers,
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
        referrerPolicy: "no-referrer",
        credentials: "omit",
        cache: "no-store",
      });
    } catch {
      throw new ApiError(`Cannot reach ${name}: the network is unavailable.`, {
        status: 0,
        code: "network_error",
      });
    }
    const payload = await response.json().catch(() => undefined);
    if (response.ok && payload && typeof payload === "object") return payload as T;
    throw errorOf(name, response, payload);
  }

  return {
    livekitToken: (input = {}) =>
      call("livekit-token", { method: "POST", body: input.sessionId ? input : {} }),
    sessionDetails: (input = {}) => call("streams", { query: { sessionId: input.sessionId } }),
    liveStreams: async () => (await call<{ streams: SessionJson[] }>("streams", {})).streams,
    recordingUrl: (input = {}) =>
      call("recording-url", { query: { recordingId: input.recordingId } }),
    confirmConsent: async () =>
      (await call<{ guardian: GuardianJson }>("guardian-consent", { method: "POST", body: {} }))
        .guardian,
    preferences: async () =>
      (await call<{ guardian: GuardianJson }>("notification-preferences", {})).guardian,
    savePreferences: async (notify) =>
      (await call<{ guardian: GuardianJson }>("notification-preferences", {
        method: "POST",
        body: { notify },
      })).guardian,
    approval: () => call("guardian-approval", {}),
    decideApproval: async (decision) =>
      (await call<{ guardian: GuardianJson }>("guardian-approval", {
        method: "POST",
        body: { decision },
      })).guardian,
  };
}

function errorOf(name: string, response: Response, payload: unknown): ApiError {
  const error = (payload as { error?: { code?: unknown; message?: unknown; requestId?: unknown } })
    ?.error;
  const retryAfter = Number(response.headers.get("retry-after"));
  return new ApiError(
    typeof error?.message === "string"
      ? error.message
      : `${name} answered ${response.status} without an error body.`,
    {
      status: response.status,
      code: typeof error?.code === "string" ? error.code : `http_${response.status}`,
      retryAfterSeconds: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : undefined,
      requestId: typeof error?.requestId === "string"
        ? error.requestId
        : response.headers.get("x-request-id") ?? undefined,
    },
  );
}
