/**
 * The error model of the HTTP contract: throw an {@linkcode HttpError} anywhere and
 * {@linkcode errorResponse} turns it into `{ error: { code, message, requestId, details } }`.
 */

/** One failed field of a `400 invalid_request`. */
export interface FieldIssue {
  path: string;
  message: string;
}

/** Options of {@linkcode HttpError}. */
export interface HttpErrorOptions {
  /** Machine-readable extra information returned to the caller as `details`. */
  details?: unknown;
  /** Headers added to the response, such as `Retry-After` or `Allow`. */
  headers?: Record<string, string>;
  /** The underlying error, logged but never returned. */
  cause?: unknown;
}

/** An error that maps to one response of the contract. */
export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details?: unknown;
  readonly headers: Record<string, string>;

  constructor(status: number, code: string, message: string, options: HttpErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = "HttpError";
    this.status = status;
    this.code = code;
    this.details = options.details;
    this.headers = options.headers ?? {};
  }
}

/** How many failed fields `invalid_request` lists before it sums up the rest. */
export const MAX_FIELD_ISSUES = 20;

/** How many characters of a path or message a failed field keeps. */
const MAX_ISSUE_TEXT = 200;

function _clip(text: string): string {
  return text.length <= MAX_ISSUE_TEXT ? text : `${text.slice(0, MAX_ISSUE_TEXT - 1)}…`;
}

/**
 * `400 invalid_request` listing each failed field: at most {@linkcode MAX_FIELD_ISSUES} of
 * them, then `{ path: "", message: "and N more" }`, each path and message clipped, so that a
 * body of thousands of unknown fields gets a short answer.
 */
export function invalidRequest(
  issues: FieldIssue[],
  message = "The request is not valid.",
): HttpError {
  const details = issues.slice(0, MAX_FIELD_ISSUES).map((issue) => ({
    path: _clip(issue.path),
    message: _clip(issue.message),
  }));
  if (issues.length > MAX_FIELD_ISSUES) {
    details.push({ path: "", message: `and ${issues.length - MAX_FIELD_ISSUES} more` });
  }
  return new HttpError(400, "invalid_request", message, { details });
}

/** `401 unauthorized`. */
export function unauthorized(message = "A valid access token is required."): HttpError {
  return new HttpError(401, "unauthorized", message);
}

/** `403 forbidden`: the caller may see the object but not do this. */
export function forbidden(message = "You are not allowed to do this."): HttpError {
  return new HttpError(403, "forbidden", message);
}

/** `404 not_found`: absent or not visible to the caller; existence is never leaked. */
export function notFound(message = "Nothing was found here."): HttpError {
  return new HttpError(404, "not_found", message);
}

/** `409` with one of the contract's named conflict codes. */
export function conflict(code: string, message: string, details?: unknown): HttpError {
  return new HttpError(409, code, message, { details });
}

/** `503 <dependency>_unavailable`. */
export function unavailable(
  dependency: "database" | "livekit" | "storage" | "email",
  cause?: unknown,
): HttpError {
  return new HttpError(
    503,
    `${dependency}_unavailable`,
    `The ${dependency} service is unavailable; try again shortly.`,
    { cause, headers: { "retry-after": "5" } },
  );
}

/** Builds the contract's JSON error response. Only {@linkcode HttpError} reaches callers. */
export function errorResponse(
  error: HttpError,
  requestId: string,
  headers: HeadersInit = {},
): Response {
  const body: Record<string, unknown> = { code: error.code, message: error.message, requestId };
  if (error.details !== undefined) body.details = error.details;
  const response = Response.json({ error: body }, { status: error.status, headers });
  for (const [name, value] of Object.entries(error.headers)) response.headers.set(name, value);
  response.headers.set("x-request-id", requestId);
  return response;
}
