/**
 * Link tokens: compact JWS signed with `LINK_SIGNING_SECRET`, typed, bound to one guardian
 * and one object, and expiring. Whether the guardian and object are still valid is checked by
 * the function that accepts the link, against the database.
 */
import { errors, jwtVerify, SignJWT } from "jose";
import type { Clock } from "./clock.ts";
import { systemClock } from "./clock.ts";
import { hmacKey } from "./auth.ts";
import { HttpError } from "./errors.ts";
import { createLogger, type Logger } from "./log.ts";

/** What a link lets its holder do. */
export type LinkType =
  | "watch"
  | "recording"
  | "consent"
  | "preferences"
  | "approval";

/** The verified content of a link token. */
export interface LinkClaims {
  type: LinkType;
  guardianId: string;
  /**
   * The session (watch), recording, guardian (consent, preferences) or invited guardian
   * (approval, whose `guardianId` is the primary guardian deciding) it is about.
   */
  objectId: string;
  expiresAt: Date;
}

/** How long each type of link lives, in seconds. */
export const LINK_LIFETIME_SECONDS: Record<LinkType, number> = {
  watch: 24 * 3600,
  recording: 7 * 24 * 3600,
  consent: 7 * 24 * 3600,
  preferences: 365 * 24 * 3600,
  approval: 7 * 24 * 3600,
};

const TOKEN_TYPE = "link+jwt";
const AUDIENCE = "link";

/** `401 invalid_link`. */
export function invalidLink(): HttpError {
  return new HttpError(
    401,
    "invalid_link",
    "This link is invalid, expired or no longer active.",
  );
}

/** Signs and checks link tokens. */
export interface LinkSigner {
  sign(
    link: Omit<LinkClaims, "expiresAt">,
    options?: { lifetimeSeconds?: number },
  ): Promise<string>;
  /** The claims of a valid token of `type`, or `401 invalid_link`. */
  verify(token: string, type: LinkType): Promise<LinkClaims>;
}

/**
 * The secrets of link tokens: `linkSecret` signs and verifies; during a rotation
 * `previousLinkSecret` (the one before it) verifies the links already sent and signs nothing.
 */
export interface LinkSecrets {
  linkSecret: string;
  previousLinkSecret?: string;
}

/** Options of {@linkcode createLinkSigner}. */
export interface LinkSignerOptions {
  /**
   * Told when a link verified only with the previous secret (never a secret or a token), so
   * an operator sees when old links stop arriving. @default {a logger writing to stdout}
   */
  log?: Logger;
}

/**
 * Creates a signer for `secrets` (each at least 32 characters), or for one secret alone.
 * New links are always signed with the current secret.
 */
export function createLinkSigner(
  secrets: string | LinkSecrets,
  clock: Clock = systemClock,
  options: LinkSignerOptions = {},
): LinkSigner {
  const { linkSecret, previousLinkSecret } = typeof secrets === "string"
    ? { linkSecret: secrets, previousLinkSecret: undefined }
    : secrets;
  for (const secret of [linkSecret, previousLinkSecret]) {
    if (secret !== undefined && secret.length < 32) {
      throw new Error(
        "Cannot sign links: the secret is shorter than 32 characters",
      );
    }
  }
  const log = options.log ?? createLogger({ component: "link-signer" });
  const key = hmacKey(linkSecret, ["sign", "verify"]);
  const previousKey = previousLinkSecret === undefined
    ? undefined
    : hmacKey(previousLinkSecret, ["verify"]);

  async function claimsOf(
    token: string,
    key: CryptoKey,
    type: LinkType,
  ): Promise<LinkClaims> {
    const { payload } = await jwtVerify(token, key, {
      algorithms: ["HS256"],
      audience: AUDIENCE,
      typ: TOKEN_TYPE,
      requiredClaims: ["exp", "sub"],
      currentDate: clock.now(),
    });
    if (payload.typ !== type || typeof payload.obj !== "string") {
      throw new Error("wrong type");
    }
    return {
      type,
      guardianId: payload.sub!,
      objectId: payload.obj,
      expiresAt: new Date(payload.exp! * 1000),
    };
  }

  return {
    async sign(link, options = {}) {
      const now = Math.floor(clock.now().getTime() / 1000);
      const lifetime = options.lifetimeSeconds ??
        LINK_LIFETIME_SECONDS[link.type];
      return await new SignJWT({ typ: link.type, obj: link.objectId })
        .setProtectedHeader({ alg: "HS256", typ: TOKEN_TYPE })
        .setSubject(link.guardianId)
        .setAudience(AUDIENCE)
        .setIssuedAt(now)
        .setExpirationTime(now + lifetime)
        .sign(await key);
    },
    async verify(token, type) {
      try {
        return await claimsOf(token, await key, type);
      } catch (error) {
        // Only a signature the current secret refused may be the previous secret's: an
        // expired or mistyped link stays refused whichever secret signed it.
        if (
          !previousKey ||
          !(error instanceof errors.JWSSignatureVerificationFailed)
        ) {
          throw invalidLink();
        }
      }
      try {
        const claims = await claimsOf(token, await previousKey, type);
        log.warn("link accepted with LINK_SIGNING_SECRET_PREVIOUS", {
          type,
          expiresAt: claims.expiresAt.toISOString(),
        });
        return claims;
      } catch {
        throw invalidLink();
      }
    },
  };
}

/**
 * The link token of a request: the `x-link-token` header (preferred), then `link` in the JSON
 * body, then `?link=`. Undefined when none is given.
 */
export function findLinkToken(
  request: Request,
  body?: { link?: unknown },
): string | undefined {
  const header = request.headers.get("x-link-token");
  if (header) return header.trim();
  if (typeof body?.link === "string" && body.link) return body.link;
  return new URL(request.url).searchParams.get("link") ?? undefined;
}
