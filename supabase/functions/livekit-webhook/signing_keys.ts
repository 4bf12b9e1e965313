/**
 * Which key pair checks a webhook. LiveKit signs each webhook with one key pair and names its
 * API key in the token's `iss`; during a rotation that may still be the previous pair
 * (`LIVEKIT_WEBHOOK_PREVIOUS_API_KEY`/`_SECRET`), so the pair the token names is the one
 * tried. Nothing is ever signed here: the previous pair only verifies.
 */
import { decodeJwt } from "jose";
import { WebhookReceiver } from "livekit-server-sdk";

/** An API key pair of LiveKit. */
export interface WebhookKeyPair {
  apiKey: string;
  apiSecret: string;
}

/** Which configured pair verified an event. */
export type WebhookKeyUsed = "current" | "previous";

/** Verifies webhooks with the current key pair or, during a rotation, the previous one. */
export interface WebhookVerifier {
  /**
   * The event of a body whose `Authorization` token one of the pairs signed, and which pair;
   * throws what LiveKit's `WebhookReceiver` throws otherwise.
   */
  receive(
    body: string,
    authorization: string | undefined,
  ): Promise<
    {
      event: Awaited<ReturnType<WebhookReceiver["receive"]>>;
      keyUsed: WebhookKeyUsed;
    }
  >;
}

function issuerOf(token: string | undefined): string | undefined {
  if (!token) return undefined;
  try {
    const iss = decodeJwt(token).iss;
    return typeof iss === "string" ? iss : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Creates the verifier. A token naming the previous key is checked with the previous pair;
 * any other token with the current pair. When both pairs share one key name (only its secret
 * was rotated), the current secret is tried first, then the previous one.
 */
export function createWebhookVerifier(
  current: WebhookKeyPair,
  previous?: WebhookKeyPair,
): WebhookVerifier {
  const currentReceiver = new WebhookReceiver(
    current.apiKey,
    current.apiSecret,
  );
  const previousReceiver = previous &&
    new WebhookReceiver(previous.apiKey, previous.apiSecret);
  return {
    async receive(body, authorization) {
      const issuer = issuerOf(authorization);
      if (previousReceiver && issuer === previous!.apiKey) {
        if (issuer !== current.apiKey) {
          return {
            event: await previousReceiver.receive(body, authorization),
            keyUsed: "previous",
          };
        }
        try {
          return {
            event: await currentReceiver.receive(body, authorization),
            keyUsed: "current",
          };
        } catch {
          return {
            event: await previousReceiver.receive(body, authorization),
            keyUsed: "previous",
          };
        }
      }
      return {
        event: await currentReceiver.receive(body, authorization),
        keyUsed: "current",
      };
    },
  };
}
