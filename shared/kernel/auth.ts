/**
 * Verification of Supabase access tokens (users) and service credentials with jose.
 * HS256 tokens are checked against `SUPABASE_JWT_SECRET`; asymmetric ones against
 * `SUPABASE_JWKS` or the project's remote JWKS (cached). The algorithm decides the key
 * source, and each key source accepts only its own algorithms, so `alg: none` and HS/RS
 * confusion cannot pass.
 */
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeProtectedHeader,
  type JSONWebKeySet,
  type JWTPayload,
  jwtVerify,
  type JWTVerifyGetKey,
} from "jose";
import type { Clock } from "./clock.ts";
import { systemClock } from "./clock.ts";
import { forbidden, HttpError, unauthorized } from "./errors.ts";
import type { Handler, RequestContext } from "./http.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ASYMMETRIC = ["RS256", "ES256", "EdDSA"];
/** How long, at most, a verified token is trusted without checking its signature again. */
const VERIFIED_TOKEN_TTL_MS = 60_000;
/** How many verified tokens an isolate remembers; the oldest go first. */
const VERIFIED_TOKEN_LIMIT = 5_000;

/** The claims of a verified user, as the database's RLS policies receive them. */
export interface UserClaims extends JWTPayload {
  sub: string;
  role: "authenticated";
  aud: string | string[];
  email?: string;
  /** Set by Supabase Auth for anonymous sign-ins; such users may do nothing here. */
  is_anonymous?: boolean;
}

/** Options of {@linkcode createTokenVerifier}. */
export interface TokenVerifierOptions {
  /** The project URL; the remote JWKS and the default issuer derive from it. */
  supabaseUrl: string;
  /** Expected `iss` when a token has one. @default {`${supabaseUrl}/auth/v1`} */
  issuer?: string;
  /** Legacy HS256 secret. */
  jwtSecret?: string;
  /** JWKS for asymmetric tokens, instead of fetching it. */
  jwks?: JSONWebKeySet;
  /** Also accepted as the service caller's bearer (compared in constant time). */
  serviceRoleKey?: string;
  /** Fetches the remote JWKS only when no local JWKS is given. @default {true} */
  remoteJwks?: boolean;
  clock?: Clock;
}

/** Verifies bearer tokens of users and of the service caller. */
export interface TokenVerifier {
  /**
   * A user's access token, or `401 unauthorized`; `403 forbidden` for an anonymous user's
   * (`is_anonymous: true`), who is no streamer or guardian.
   */
  verifyUser(token: string): Promise<UserClaims>;
  /** A `service_role` JWT or the service role key, or `401 unauthorized`. */
  verifyService(token: string): Promise<void>;
}

/** The bearer token of `Authorization: Bearer <token>`, or `401 unauthorized`. */
export function bearerToken(request: Request): string {
  const header = request.headers.get("authorization") ?? "";
  const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(header.trim());
  if (!match) throw withChallenge(unauthorized("An Authorization: Bearer token is required."));
  return match[1];
}

function withChallenge(error: HttpError): HttpError {
  error.headers["www-authenticate"] = 'Bearer realm="functions"';
  return error;
}

function constantTimeEqual(a: string, b: string): boolean {
  const left = new TextEncoder().encode(a);
  const right = new TextEncoder().encode(b);
  let difference = left.length ^ right.length;
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    difference |= (left[i] ?? 0) ^ (right[i] ?? 0);
  }
  return difference === 0;
}

/** An HS256 key for `secret`, imported once and shared by every request of the isolate. */
export function hmacKey(secret: string, usages: KeyUsage[]): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    usages,
  );
}

/** Creates the verifier once per cold start; the remote JWKS is cached across requests. */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const clock = options.clock ?? systemClock;
  const issuer = options.issuer ?? `${options.supabaseUrl}/auth/v1`;
  // Imported once: jose would import raw key bytes again on every verification.
  const secret = options.jwtSecret ? hmacKey(options.jwtSecret, ["verify"]) : undefined;
  let keySet: JWTVerifyGetKey | undefined;
  if (options.jwks) keySet = createLocalJWKSet(options.jwks);
  else if (options.remoteJwks !== false) {
    keySet = createRemoteJWKSet(new URL(`${options.supabaseUrl}/auth/v1/.well-known/jwks.json`), {
      timeoutDuration: 3000,
      cooldownDuration: 30_000,
      cacheMaxAge: 10 * 60_000,
    });
  }

  // Clients send the same access token with every call for its hour of life, so a token
  // whose signature checked out is remembered for a short while: its expiry and claims are
  // still checked on every use, but not its signature again. Only successes are kept,
  // keyed by the whole token (signature included), so nothing unverified can get in.
  const verified = new Map<string, { payload: JWTPayload; until: number }>();

  async function verifySignature(token: string): Promise<JWTPayload> {
    const now = clock.now().getTime();
    const known = verified.get(token);
    if (known && now < known.until) return known.payload;
    verified.delete(token);
    const payload = await checkSignature(token);
    if (typeof payload.exp === "number") {
      // Never past the expiry, and at most a minute: a signing key revoked from the JWKS
      // stops being honoured within that minute.
      const until = Math.min(now + VERIFIED_TOKEN_TTL_MS, payload.exp * 1000);
      if (verified.size >= VERIFIED_TOKEN_LIMIT) {
        verified.delete(verified.keys().next().value!); // the oldest entry
      }
      verified.set(token, { payload, until });
    }
    return payload;
  }

  async function checkSignature(token: string): Promise<JWTPayload> {
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw new Error("the token is malformed");
    }
    const common = { currentDate: clock.now(), clockTolerance: 5 };
    if (alg === "HS256" && secret) {
      return (await jwtVerify(token, await secret, { ...common, algorithms: ["HS256"] })).payload;
    }
    if (alg && ASYMMETRIC.includes(alg) && keySet) {
      return (await jwtVerify(token, keySet, { ...common, algorithms: ASYMMETRIC })).payload;
    }
    throw new Error(`no key accepts algorithm ${alg}`);
  }

  function requireExpiry(payload: JWTPayload): void {
    if (typeof payload.exp !== "number") throw new Error("the token has no expiry");
  }

  return {
    async verifyUser(token) {
      let claims: UserClaims;
      try {
        const payload = await verifySignature(token);
        requireExpiry(payload);
        const audiences = Array.isArray(payload.aud) ? payload.aud : [payload.aud];
        if (!audiences.includes("authenticated")) throw new Error("wrong audience");
        if (payload.role !== "authenticated") throw new Error("wrong role");
        if (typeof payload.sub !== "string" || !UUID.test(payload.sub)) {
          throw new Error("the subject is not a user id");
        }
        if (payload.iss !== undefined && payload.iss !== issuer) throw new Error("wrong issuer");
        claims = payload as UserClaims;
      } catch {
        throw withChallenge(unauthorized("The access token is missing, invalid or expired."));
      }
      // Only after the signature: an unsigned claim decides nothing. Anything but false or
      // absent counts as anonymous.
      if (claims.is_anonymous !== undefined && claims.is_anonymous !== false) {
        throw forbidden("Anonymous accounts cannot stream or watch; sign in with an account.");
      }
      return claims;
    },
    async verifyService(token) {
      if (options.serviceRoleKey && constantTimeEqual(token, options.serviceRoleKey)) return;
      try {
        const payload = await verifySignature(token);
        requireExpiry(payload);
        if (payload.role !== "service_role") throw new Error("wrong role");
        // Supabase's legacy service key is issued by "supabase"; newer ones by the project.
        if (payload.iss !== undefined && payload.iss !== issuer && payload.iss !== "supabase") {
          throw new Error("wrong issuer");
        }
      } catch {
        throw withChallenge(unauthorized("A service credential is required."));
      }
    },
  };
}

/** A handler that also receives the verified user. */
export type UserHandler = (
  request: Request,
  context: RequestContext,
  user: UserClaims,
) => Promise<Response>;

/** Requires a valid user access token; the user id joins the log line. */
export function withUser(options: { verifier: TokenVerifier }, handler: UserHandler): Handler {
  return async function authenticated(request, context) {
    const user = await options.verifier.verifyUser(bearerToken(request));
    context.annotate({ userId: user.sub });
    return await handler(request, context, user);
  };
}

/** Requires the service caller: a `service_role` JWT or the service role key. */
export function withService(options: { verifier: TokenVerifier }, handler: Handler): Handler {
  return async function service(request, context) {
    await options.verifier.verifyService(bearerToken(request));
    context.annotate({ caller: "service" });
    return await handler(request, context);
  };
}
