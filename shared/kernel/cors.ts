/** The CORS allowlist of the contract: listed origins only, `*` only when set explicitly. */

/** Request headers a browser may send. */
export const ALLOWED_HEADERS =
  "authorization, apikey, content-type, x-client-info, idempotency-key, x-request-id, x-link-token";

/** Response headers a browser may read. */
export const EXPOSED_HEADERS = "x-request-id, retry-after";

/** Options of {@linkcode corsHeaders}. */
export interface CorsOptions {
  /** Exact origins (`https://app.example.com`) or `*`. */
  allowedOrigins: string[];
}

/** The CORS headers for a request from `origin`; none when the origin is not allowed. */
export function corsHeaders(origin: string | null, options: CorsOptions): Headers {
  const headers = new Headers({ vary: "Origin" });
  if (!origin) return headers;
  const wildcard = options.allowedOrigins.includes("*");
  if (!wildcard && !options.allowedOrigins.includes(origin)) return headers;
  headers.set("access-control-allow-origin", wildcard ? "*" : origin);
  headers.set("access-control-expose-headers", EXPOSED_HEADERS);
  return headers;
}

/** The answer to a preflight `OPTIONS` request: 204, with CORS headers only for allowed origins. */
export function preflightResponse(
  request: Request,
  methods: string[],
  options: CorsOptions,
): Response {
  const headers = corsHeaders(request.headers.get("origin"), options);
  if (headers.has("access-control-allow-origin")) {
    headers.set("access-control-allow-methods", [...methods, "OPTIONS"].join(", "));
    headers.set("access-control-allow-headers", ALLOWED_HEADERS);
    headers.set("access-control-max-age", "86400");
  }
  return new Response(null, { status: 204, headers });
}
