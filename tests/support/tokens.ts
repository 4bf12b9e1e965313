/**
 * Access tokens for tests, signed like Supabase Auth's legacy HS256 tokens. Claim overrides
 * build the bad ones: `{ aud: "anon" }`, `{ exp: 1 }`, `{ iss: undefined }` (a claim set to
 * `undefined` is left out).
 */
import { SignJWT } from "jose";

/**
 * `SUPABASE_URL` of the test server and base of the default issuer. `.test` never resolves,
 * so a function that tried to fetch the remote JWKS from it fails fast instead of reaching
 * a real project.
 */
export const TEST_SUPABASE_URL = "http://supabase.test";

/** Claims that replace the defaults of the same name; `undefined` removes one. */
export type ClaimOverrides = Record<string, unknown>;

/**
 * A user's access token: `sub`, `role` and `aud` "authenticated", `iss`
 * `${TEST_SUPABASE_URL}/auth/v1`, `iat` now, `exp` in one hour.
 */
export function userToken(
  secret: string,
  sub: string,
  overrides: ClaimOverrides = {},
): Promise<string> {
  return sign(secret, { sub, role: "authenticated", aud: "authenticated", ...overrides });
}

/**
 * A `service_role` token shaped like the Supabase secret key (no `sub`, no `aud`), for callers
 * such as `send-notification` and `reconcile`; `iss` and `exp` as in {@linkcode userToken}.
 */
export function serviceToken(secret: string, overrides: ClaimOverrides = {}): Promise<string> {
  return sign(secret, { role: "service_role", ...overrides });
}

function sign(secret: string, claims: ClaimOverrides): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload: ClaimOverrides = {
    iss: `${TEST_SUPABASE_URL}/auth/v1`,
    iat: now,
    exp: now + 3600,
    ...claims,
  };
  for (const [name, value] of Object.entries(payload)) {
    if (value === undefined) delete payload[name];
  }
  return new SignJWT(payload)
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .sign(new TextEncoder().encode(secret));
}
