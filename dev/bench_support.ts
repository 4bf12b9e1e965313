/** What bench scenarios share: users' access tokens minted up front, and rotation. */
import { SignJWT } from "jose";
import { hmacKey } from "../shared/kernel/auth.ts";

/**
 * The SendGrid double's limit in the bench: high enough never to answer `429`, since the bench
 * measures the outbox drain, not SendGrid's limits.
 */
export const BENCH_SENDGRID_RATE_LIMIT = { limit: 1_000_000, windowSeconds: 60 };

/**
 * Access tokens of `users`, minted before measuring so that the load does not pay for
 * signing. Returns a lookup by user id.
 */
export async function mintTokens(
  jwtSecret: string,
  users: string[],
): Promise<(user: string) => string> {
  const key = await hmacKey(jwtSecret, ["sign"]);
  const tokens = new Map<string, string>();
  for (const sub of users) {
    tokens.set(
      sub,
      await new SignJWT({ sub, role: "authenticated", aud: "authenticated" })
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setIssuedAt()
        .setExpirationTime("1h")
        .sign(key),
    );
  }
  return (user) => tokens.get(user)!;
}

/** The items in turn, round and round. */
export function rotate<T>(items: T[]): () => T {
  let next = 0;
  return () => items[next++ % items.length];
}
