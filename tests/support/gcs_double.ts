/**
 * A loopback double of Google Cloud Storage that checks what GCS checks:
 *
 * - V4 signed URLs (`GOOG4-RSA-SHA256`): the canonical request is rebuilt from the request as
 *   received (method, path, query without the signature, the signed headers with `host`
 *   taken without its port, `UNSIGNED-PAYLOAD`) and the signature verified with the service
 *   account's public key; the credential must name that account, the URL must not be expired
 *   (by the double's own clock), and a `PUT` body must fit `x-goog-content-length-range`.
 * - Request preconditions on `PUT`, as GCS's XML API applies them: `x-goog-if-generation-match`
 *   must name the live object's generation, and `0` means "only if there is no live object";
 *   otherwise `412 PreconditionFailed` and the object stays as it was.
 *   `GET` serves the object with the signed `response-content-disposition`.
 * - The JSON API calls the SDK makes for metadata and deletion
 *   (`GET|DELETE /storage/v1/b/{bucket}/o/{object}`), only with an access token it issued.
 * - The OAuth token exchange at `/token`: a JWT-bearer assertion signed by the service
 *   account, verified with the same public key.
 *
 * Errors come in GCS's shapes (XML for signed URLs, JSON for the JSON API). It can be told to
 * fail (503) or hang, and its clock can be moved forward.
 */
import { jwtVerify } from "jose";
import { makeServiceAccount, type TestServiceAccount } from "./service_account.ts";

/** Where Google's auth libraries send service-account assertions (their `aud`). */
const GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token";
const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const STORAGE_SCOPES = [
  "https://www.googleapis.com/auth/devstorage.full_control",
  "https://www.googleapis.com/auth/devstorage.read_write",
  "https://www.googleapis.com/auth/cloud-platform",
];
const MAX_EXPIRES_SECONDS = 7 * 24 * 3600;
/** Bodies larger than this are refused without being read, whatever a URL allows. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** An object in the double's bucket. */
export interface GcsObject {
  name: string;
  data: Uint8Array<ArrayBuffer>;
  contentType: string;
  generation: string;
  createdAt: Date;
}

/** One request the double answered. */
export interface GcsRequest {
  kind: "signed" | "json" | "token" | "other";
  method: string;
  /** The path, without the query (which holds signatures). */
  path: string;
  status: number;
  /** The error code it answered with, such as `SignatureDoesNotMatch`. */
  code?: string;
}

/** How the double answers: normally, with a 503, or never (until closed). */
export type GcsMode = "ok" | "fail" | "hang";

/** Options of {@linkcode startGcsDouble}. */
export interface GcsDoubleOptions {
  /** @default {"recordings-test"} */
  bucket?: string;
  /** @default {a fresh one} */
  serviceAccount?: TestServiceAccount;
}

/** A running double. */
export interface GcsDouble {
  /** Its base URL, `http://127.0.0.1:<port>`: both the API endpoint and the token URL's base. */
  url: string;
  bucket: string;
  serviceAccount: TestServiceAccount;
  /** The service-account JSON the functions get, with `token_uri` pointing at the double. */
  credentials: Record<string, unknown>;
  /** `GCS_BUCKET`, `GCS_CREDENTIALS` and `GCS_API_ENDPOINT` for `startServer({ env })`. */
  env: Record<string, string>;
  /** The bucket's objects by name. */
  objects: Map<string, GcsObject>;
  requests: GcsRequest[];
  /** Access tokens issued by the token exchange so far. */
  tokensIssued: number;
  mode: GcsMode;
  /** The double's clock: real time plus what {@linkcode GcsDouble.advance} added. */
  now(): Date;
  /** Moves the double's clock forward (signature and token expiry). */
  advance(seconds: number): void;
  /** Puts an object straight into the bucket, as LiveKit egress would. */
  put(name: string, data: Uint8Array<ArrayBuffer>, contentType?: string): GcsObject;
  close(): Promise<void>;
}

class GcsError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

/** Starts the double on 127.0.0.1. */
export async function startGcsDouble(options: GcsDoubleOptions = {}): Promise<GcsDouble> {
  const bucket = options.bucket ?? "recordings-test";
  const serviceAccount = options.serviceAccount ?? await makeServiceAccount();
  const tokens = new Map<string, number>();
  const hanging = new Set<() => void>();
  let offsetMs = 0;
  let generation = 1_700_000_000_000_000;

  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) => answer(request),
  );
  const url = `http://127.0.0.1:${server.addr.port}`;
  const credentials = { ...JSON.parse(serviceAccount.json), token_uri: `${url}/token` };

  const double: GcsDouble = {
    url,
    bucket,
    serviceAccount,
    credentials,
    env: {
      GCS_BUCKET: bucket,
      GCS_CREDENTIALS: JSON.stringify(credentials),
      GCS_API_ENDPOINT: url,
    },
    objects: new Map(),
    requests: [],
    tokensIssued: 0,
    mode: "ok",
    now: () => new Date(Date.now() + offsetMs),
    advance(seconds) {
      offsetMs += seconds * 1000;
    },
    put(name, data, contentType = "video/mp4") {
      const object = {
        name,
        data,
        contentType,
        generation: String(generation++),
        createdAt: double.now(),
      };
      double.objects.set(name, object);
      return object;
    },
    async close() {
      for (const release of hanging) release();
      await server.shutdown();
    },
  };

  async function answer(request: Request): Promise<Response> {
    const { pathname } = new URL(request.url);
    const kind: GcsRequest["kind"] = pathname === "/token"
      ? "token"
      : pathname.startsWith("/storage/v1/")
      ? "json"
      : new URL(request.url).searchParams.has("X-Goog-Signature")
      ? "signed"
      : "other";
    let response: Response;
    let code: string | undefined;
    if (double.mode === "hang") {
      await new Promise<void>((resolve) => hanging.add(resolve));
      return new Response(null, { status: 503 });
    }
    try {
      if (double.mode === "fail") throw new GcsError(503, "ServiceUnavailable", "Try again.");
      if (kind === "token") response = await exchangeToken(request);
      else if (kind === "json") response = jsonApi(request, pathname);
      else response = await signedRequest(request);
    } catch (error) {
      if (!(error instanceof GcsError)) throw error;
      code = error.code;
      response = kind === "json"
        ? Response.json({
          error: {
            code: error.status,
            message: error.message,
            errors: [{ domain: "global", reason: error.code, message: error.message }],
          },
        }, { status: error.status })
        : kind === "token"
        ? Response.json({ error: error.code, error_description: error.message }, {
          status: error.status,
        })
        : new Response(
          `<?xml version='1.0' encoding='UTF-8'?><Error><Code>${error.code}</Code><Message>${error.message}</Message></Error>`,
          { status: error.status, headers: { "content-type": "application/xml; charset=UTF-8" } },
        );
    }
    double.requests.push({
      kind,
      method: request.method,
      path: pathname,
      status: response.status,
      code,
    });
    return response;
  }

  /** OAuth 2.0 JWT-bearer grant (RFC 7523) as Google's token endpoint does it. */
  async function exchangeToken(request: Request): Promise<Response> {
    if (request.method !== "POST") throw new GcsError(405, "invalid_request", "Use POST.");
    const form = new URLSearchParams(await request.text());
    if (form.get("grant_type") !== JWT_BEARER) {
      throw new GcsError(400, "unsupported_grant_type", "Invalid grant_type.");
    }
    try {
      const { payload } = await jwtVerify(form.get("assertion") ?? "", serviceAccount.publicKey, {
        algorithms: ["RS256"],
        issuer: serviceAccount.clientEmail,
        audience: [GOOGLE_TOKEN_URL, `${url}/token`],
        currentDate: double.now(),
        requiredClaims: ["iat", "exp"],
      });
      if (payload.exp! - payload.iat! > 3600) throw new Error("the assertion lives too long");
      const scopes = String(payload.scope ?? "").split(" ");
      if (!scopes.some((scope) => STORAGE_SCOPES.includes(scope))) throw new Error("no scope");
    } catch {
      throw new GcsError(400, "invalid_grant", "Invalid JWT Signature.");
    }
    const token = `ya29.test-${crypto.randomUUID()}`;
    tokens.set(token, double.now().getTime() + 3600_000);
    double.tokensIssued++;
    return Response.json({ access_token: token, expires_in: 3599, token_type: "Bearer" });
  }

  function jsonApi(request: Request, pathname: string): Response {
    const bearer = /^Bearer (.+)$/.exec(request.headers.get("authorization") ?? "")?.[1];
    const expiry = bearer ? tokens.get(bearer) : undefined;
    if (expiry === undefined || expiry <= double.now().getTime()) {
      throw new GcsError(401, "authError", "Invalid Credentials");
    }
    const match = /^\/storage\/v1\/b\/([^/]+)(?:\/o\/([^/]+))?$/.exec(pathname);
    if (!match) throw new GcsError(404, "notFound", "Not Found");
    if (decodeURIComponent(match[1]) !== bucket) {
      throw new GcsError(404, "notFound", "The specified bucket does not exist.");
    }
    if (match[2] === undefined) {
      if (request.method !== "GET") throw new GcsError(405, "methodNotAllowed", "Use GET.");
      return Response.json({ kind: "storage#bucket", id: bucket, name: bucket });
    }
    const name = decodeURIComponent(match[2]);
    const object = double.objects.get(name);
    if (request.method === "GET") {
      if (!object) throw new GcsError(404, "notFound", `No such object: ${bucket}/${name}`);
      return Response.json(resource(object));
    }
    if (request.method === "DELETE") {
      if (!object) throw new GcsError(404, "notFound", `No such object: ${bucket}/${name}`);
      double.objects.delete(name);
      return new Response(null, { status: 204 });
    }
    throw new GcsError(405, "methodNotAllowed", `${request.method} is not supported here.`);
  }

  function resource(object: GcsObject) {
    return {
      kind: "storage#object",
      id: `${bucket}/${object.name}/${object.generation}`,
      name: object.name,
      bucket,
      generation: object.generation,
      metageneration: "1",
      contentType: object.contentType,
      size: String(object.data.byteLength),
      timeCreated: object.createdAt.toISOString(),
      updated: object.createdAt.toISOString(),
      storageClass: "STANDARD",
    };
  }

  /** A request made with a V4 signed URL (the XML API). */
  async function signedRequest(request: Request): Promise<Response> {
    const requestUrl = new URL(request.url);
    if (!requestUrl.searchParams.has("X-Goog-Signature")) {
      throw new GcsError(403, "AccessDenied", "Anonymous caller does not have access.");
    }
    await verifySignature(request, requestUrl);
    const [, bucketName, ...rest] = requestUrl.pathname.split("/");
    if (decodeURIComponent(bucketName) !== bucket || rest.length === 0) {
      throw new GcsError(404, "NoSuchBucket", "The specified bucket does not exist.");
    }
    const name = rest.map(decodeURIComponent).join("/");
    if (request.method === "PUT") return await upload(request, name);
    if (request.method === "GET" || request.method === "HEAD") {
      const object = double.objects.get(name);
      if (!object) throw new GcsError(404, "NoSuchKey", "The specified key does not exist.");
      const query = requestUrl.searchParams;
      const headers = new Headers({
        "content-type": query.get("response-content-type") ?? object.contentType,
        "content-length": String(object.data.byteLength),
        etag: `"${object.generation}"`,
      });
      const disposition = query.get("response-content-disposition");
      if (disposition) headers.set("content-disposition", disposition);
      headers.set("accept-ranges", "bytes");
      // Byte ranges as GCS serves them, so that players seek (`_byteRange`).
      const range = _byteRange(request.headers.get("range"), object.data.byteLength);
      if (range === "unsatisfiable") {
        throw new GcsError(416, "InvalidRange", "The requested range cannot be satisfied.");
      }
      if (range) {
        headers.set("content-range", `bytes ${range.start}-${range.end}/${object.data.byteLength}`);
        headers.set("content-length", String(range.end - range.start + 1));
        const part = object.data.slice(range.start, range.end + 1);
        return new Response(request.method === "HEAD" ? null : part, { status: 206, headers });
      }
      return new Response(request.method === "HEAD" ? null : object.data, { headers });
    }
    throw new GcsError(405, "MethodNotAllowed", `${request.method} is not allowed here.`);
  }

  async function upload(request: Request, name: string): Promise<Response> {
    const range = request.headers.get("x-goog-content-length-range");
    let min = 0;
    let max = MAX_BODY_BYTES;
    if (range !== null) {
      const bounds = /^\s*(\d+)\s*,\s*(\d+)\s*$/.exec(range);
      if (!bounds) throw new GcsError(400, "InvalidArgument", "Invalid content length range.");
      [min, max] = [Number(bounds[1]), Number(bounds[2])];
    }
    const body = await readBody(request, Math.min(max, MAX_BODY_BYTES));
    if (body.byteLength > max) {
      throw new GcsError(
        400,
        "EntityTooLarge",
        "Your proposed upload exceeds the maximum allowed size.",
      );
    }
    if (body.byteLength < min) {
      throw new GcsError(
        400,
        "EntityTooSmall",
        "Your proposed upload is smaller than the minimum allowed size.",
      );
    }
    checkGenerationMatch(request.headers.get("x-goog-if-generation-match"), name);
    const object = double.put(
      name,
      body,
      request.headers.get("content-type") ?? "application/octet-stream",
    );
    return new Response(null, { status: 200, headers: { etag: `"${object.generation}"` } });
  }

  /** `x-goog-if-generation-match` (GCS's request preconditions); absent means no condition. */
  function checkGenerationMatch(header: string | null, name: string): void {
    if (header === null) return;
    if (!/^\d+$/.test(header.trim())) {
      throw new GcsError(400, "InvalidArgument", "Invalid x-goog-if-generation-match.");
    }
    const live = double.objects.get(name)?.generation ?? "0";
    if (BigInt(header.trim()) !== BigInt(live)) {
      throw new GcsError(
        412,
        "PreconditionFailed",
        "At least one of the pre-conditions you specified did not hold.",
      );
    }
  }

  async function verifySignature(request: Request, requestUrl: URL): Promise<void> {
    const query = requestUrl.searchParams;
    const mismatch = () =>
      new GcsError(
        403,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided.",
      );
    if (query.get("X-Goog-Algorithm") !== "GOOG4-RSA-SHA256") {
      throw new GcsError(400, "InvalidArgument", "Unsupported X-Goog-Algorithm.");
    }
    const credential = query.get("X-Goog-Credential") ?? "";
    const date = query.get("X-Goog-Date") ?? "";
    const expires = Number(query.get("X-Goog-Expires"));
    const signedHeaders = (query.get("X-Goog-SignedHeaders") ?? "").split(";");
    const signature = query.get("X-Goog-Signature") ?? "";
    const dateMatch = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(date);
    const [email, ...scopeParts] = credential.split("/");
    const scope = scopeParts.join("/");
    if (
      !dateMatch || !Number.isInteger(expires) || expires < 1 || expires > MAX_EXPIRES_SECONDS ||
      scope !== `${date.slice(0, 8)}/auto/storage/goog4_request` ||
      !signedHeaders.includes("host") || !/^[0-9a-f]+$/.test(signature)
    ) {
      throw new GcsError(
        400,
        "AuthorizationQueryParametersError",
        "Malformed V4 query parameters.",
      );
    }
    if (email !== serviceAccount.clientEmail) {
      throw new GcsError(403, "AccessDenied", "Access denied: unknown service account.");
    }

    const headerLines: string[] = [];
    for (const name of signedHeaders) {
      const value = name === "host"
        ? request.headers.get("host")?.replace(/:\d+$/, "")
        : request.headers.get(name);
      if (value === null || value === undefined) throw mismatch();
      headerLines.push(`${name}:${value.trim().replace(/\s+/g, " ")}\n`);
    }
    const canonicalQuery = [...query.entries()]
      .filter(([key]) => key !== "X-Goog-Signature")
      .map(([key, value]) => [rfc3986(key), rfc3986(value)])
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, value]) => `${key}=${value}`)
      .join("&");
    const canonicalPath = requestUrl.pathname.split("/")
      .map((segment) => rfc3986(decodeURIComponent(segment))).join("/");
    const canonicalRequest = [
      request.method,
      canonicalPath,
      canonicalQuery,
      headerLines.join(""),
      signedHeaders.join(";"),
      "UNSIGNED-PAYLOAD",
    ].join("\n");
    const stringToSign = [
      "GOOG4-RSA-SHA256",
      date,
      scope,
      await sha256Hex(canonicalRequest),
    ].join("\n");
    const valid = await crypto.subtle.verify(
      "RSASSA-PKCS1-v1_5",
      serviceAccount.publicKey,
      hexBytes(signature),
      new TextEncoder().encode(stringToSign),
    );
    if (!valid) throw mismatch();

    const [, year, month, day, hour, minute, second] = dateMatch.map(Number);
    const signedAt = Date.UTC(year, month - 1, day, hour, minute, second);
    const now = double.now().getTime();
    if (now > signedAt + expires * 1000) {
      throw new GcsError(400, "ExpiredToken", "Invalid argument: the signed URL has expired.");
    }
    if (signedAt > now + 15 * 60 * 1000) {
      throw new GcsError(400, "RequestNotYetValid", "The signed URL is not valid yet.");
    }
  }

  return double;
}

/** Percent-encodes everything but RFC 3986's unreserved characters, as V4 signing does. */
function rfc3986(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

function hexBytes(hex: string): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(Math.floor(hex.length / 2));
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

/** Reads at most `limit + 1` bytes: enough to know the body is too large without keeping it. */
async function readBody(request: Request, limit: number): Promise<Uint8Array<ArrayBuffer>> {
  if (!request.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return new Uint8Array(size);
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

/**
 * One `bytes=` range of a `Range` header (`a-b`, `a-`, `-n`), `undefined` to send the whole
 * object (no header, or one GCS ignores such as several ranges), or `unsatisfiable`.
 */
function _byteRange(
  header: string | null,
  size: number,
): { start: number; end: number } | "unsatisfiable" | undefined {
  const match = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (!match || (match[1] === "" && match[2] === "")) return undefined;
  if (match[1] === "") {
    const suffix = Number(match[2]);
    if (suffix === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  if (start >= size) return "unsatisfiable";
  const end = match[2] === "" ? size - 1 : Math.min(Number(match[2]), size - 1);
  return end < start ? undefined : { start, end };
}
