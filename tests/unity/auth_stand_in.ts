/**
 * A stand-in for Supabase Auth's refresh grant, `POST /auth/v1/token?grant_type=refresh_token`
 * with `{ "refresh_token": … }`, as its OpenAPI description documents it: the `apikey` header
 * is required, each refresh token works once, and a success answers
 * `{ access_token, token_type: "bearer", expires_in, expires_at, refresh_token, user }` with an
 * HS256 access token signed by the local server's `SUPABASE_JWT_SECRET`. Refusals use Auth's
 * error shape (`{ code, error_code, msg }`); a missing or wrong `apikey` gets the API
 * gateway's 401. Unlike the real service it has no reuse interval, so a second use of a
 * refresh token is always refused: a client that refreshes twice at once is caught.
 *
 * Sessions to start from are issued by {@linkcode AuthStandIn.issue}, as a sign-in would.
 */
import { SignJWT } from "jose";

/** Options of {@linkcode startAuthStandIn}. */
export interface AuthStandInOptions {
  /** The project URL; tokens carry `iss` `${supabaseUrl}/auth/v1`. */
  supabaseUrl: string;
  /** Signs access tokens (the server's `SUPABASE_JWT_SECRET`). */
  jwtSecret: string;
  /** The `apikey` every request must carry. */
  apiKey: string;
}

/** Supabase Auth's token response. */
export interface TokenResponse {
  access_token: string;
  token_type: "bearer";
  expires_in: number;
  expires_at: number;
  refresh_token: string;
  user: { id: string; aud: string; role: string };
}

/** The stand-in's handler and its counters. */
export interface AuthStandIn {
  /** Answers `/auth/v1/token`; `undefined` for other paths. */
  handle(request: Request): Promise<Response | undefined>;
  /** A session for `userId` whose access token expires in `expiresInSeconds` (may be negative). */
  issue(userId: string, expiresInSeconds: number): Promise<TokenResponse>;
  /** Refreshes granted, and refresh requests refused. */
  stats(): { refreshes: number; refused: number };
}

const ACCESS_TOKEN_SECONDS = 3600;

/** Makes the stand-in (no listener of its own: the fault proxy routes `/auth/v1/` to it). */
export function startAuthStandIn(options: AuthStandInOptions): AuthStandIn {
  const secret = new TextEncoder().encode(options.jwtSecret);
  /** Refresh tokens by value: whose they are, and whether they were used. */
  const refreshTokens = new Map<string, { userId: string; used: boolean }>();
  let refreshes = 0;
  let refused = 0;

  async function issue(userId: string, expiresInSeconds: number): Promise<TokenResponse> {
    const now = Math.floor(Date.now() / 1000);
    const expiresAt = now + expiresInSeconds;
    const accessToken = await new SignJWT({
      sub: userId,
      role: "authenticated",
      aud: "authenticated",
      session_id: crypto.randomUUID(),
    })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setIssuer(`${options.supabaseUrl}/auth/v1`)
      .setIssuedAt(now)
      .setExpirationTime(expiresAt)
      .sign(secret);
    const refreshToken = crypto.randomUUID().replaceAll("-", "").slice(0, 22);
    refreshTokens.set(refreshToken, { userId, used: false });
    return {
      access_token: accessToken,
      token_type: "bearer",
      expires_in: expiresInSeconds,
      expires_at: expiresAt,
      refresh_token: refreshToken,
      user: { id: userId, aud: "authenticated", role: "authenticated" },
    };
  }

  function refuse(status: number, errorCode: string, msg: string): Response {
    refused++;
    return Response.json({ code: status, error_code: errorCode, msg }, { status });
  }

  async function handle(request: Request): Promise<Response | undefined> {
    const url = new URL(request.url);
    if (url.pathname !== "/auth/v1/token") return undefined;
    const apiKey = request.headers.get("apikey");
    if (!apiKey) {
      refused++;
      return Response.json({
        message: "No API key found in request",
        hint: "No `apikey` request header or url param was found.",
      }, { status: 401 });
    }
    if (apiKey !== options.apiKey) {
      refused++;
      return Response.json({ message: "Invalid API key" }, { status: 401 });
    }
    if (request.method !== "POST") {
      return refuse(405, "method_not_allowed", "Only POST is allowed");
    }
    if (url.searchParams.get("grant_type") !== "refresh_token") {
      return refuse(400, "validation_failed", "Unsupported grant type");
    }
    let body: unknown;
    try {
      body = await request.json();
    } catch {
      return refuse(400, "bad_json", "Could not parse request body as JSON");
    }
    const token = (body as { refresh_token?: unknown } | null)?.refresh_token;
    if (typeof token !== "string" || token === "") {
      return refuse(400, "validation_failed", "refresh_token required");
    }
    const entry = refreshTokens.get(token);
    if (!entry) {
      return refuse(
        400,
        "refresh_token_not_found",
        "Invalid Refresh Token: Refresh Token Not Found",
      );
    }
    if (entry.used) {
      return refuse(400, "refresh_token_already_used", "Invalid Refresh Token: Already Used");
    }
    entry.used = true;
    refreshes++;
    return Response.json(await issue(entry.userId, ACCESS_TOKEN_SECONDS));
  }

  return { handle, issue, stats: () => ({ refreshes, refused }) };
}
