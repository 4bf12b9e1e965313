/**
 * One JSON object per line. Values that could carry a credential or a person's address are
 * masked before they are written: tokens, keys, signed URLs and email addresses never appear
 * in full.
 */

/** Fields of one log line. */
export type LogFields = Record<string, unknown>;

/** Where log lines go; tests pass an array-backed sink. */
export type LogSink = (line: string) => void;

/** A logger bound to some fields (function name, request id, user id). */
export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger whose lines also carry `fields`. */
  with(fields: LogFields): Logger;
}

const SECRET_KEY = /token|secret|password|authorization|apikey|api_key|signature|credential|link/i;
const EMAIL = /([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})/g;
const JWT = /\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g;
const SIGNED_QUERY =
  /([?&](?:X-Goog-Signature|X-Goog-Credential|signature|sig|token|link)=)[^&\s"]+/gi;

/** Masks email addresses, JWTs and signature query parameters inside free text. */
export function redactText(text: string): string {
  // Each pattern needs one of these; most values (ids, paths, statuses) have none of them.
  if (!text.includes("@") && !text.includes("eyJ") && !text.includes("=")) return text;
  return text.replace(JWT, "[jwt]").replace(SIGNED_QUERY, "$1[redacted]").replace(
    EMAIL,
    "$1***@$2",
  );
}

/** Masks a whole value: keys that name a secret lose their value, strings are redacted. */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return redactText(value);
  if (depth > 5 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  const masked: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    masked[key] = SECRET_KEY.test(key) && inner != null ? "[redacted]" : redact(inner, depth + 1);
  }
  return masked;
}

function writeStdout(line: string): void {
  console.log(line);
}

/** Creates a logger writing one JSON line per call to `sink` (stdout by default). */
export function createLogger(
  fields: LogFields = {},
  sink: LogSink = writeStdout,
): Logger {
  function write(level: string, message: string, extra: LogFields = {}) {
    const line = { level, time: new Date().toISOString(), message, ...fields, ...extra };
    sink(JSON.stringify(redact(line)));
  }
  return {
    info: (message, extra) => write("info", message, extra),
    warn: (message, extra) => write("warn", message, extra),
    error: (message, extra) => write("error", message, extra),
    with: (extra) => createLogger({ ...fields, ...extra }, sink),
  };
}

/** Describes an unknown error for a log line: name, message and stack, redacted. */
export function describeError(error: unknown): LogFields {
  if (!(error instanceof Error)) return { error: String(error) };
  const described: LogFields = { errorName: error.name, error: error.message };
  if (error.stack) described.stack = error.stack.split("\n").slice(0, 8).join("\n");
  if (error.cause !== undefined) described.cause = describeError(error.cause);
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string") described.errorCode = code;
  return described;
}
