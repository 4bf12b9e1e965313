/**
 * What a verified event may carry into the ledger and the database. LiveKit signs what it
 * sends, but what it sends includes what others put there: egress events echo the egress
 * request, storage credentials and all, and names come from whoever named the room or
 * participant. So before anything is stored or logged, key material is removed, and a field
 * too large for the columns and indexes it reaches is refused with `400`.
 */
import type { FieldIssue } from "../../../shared/kernel/errors.ts";

/**
 * Keys whose values are secrets wherever they appear (compared lower-case, without `_` or
 * `-`): GCP `credentials`, S3 `accessKey`/`secret`/`sessionToken`, Azure `accountKey`,
 * `private_key` and `private_key_id` of a service-account JSON, and the like.
 */
const SECRET_KEY_PARTS = [
  "secret",
  "credential",
  "privatekey",
  "accesskey",
  "accountkey",
  "sessiontoken",
  "apikey",
  "password",
];

/** Key material that may also sit inside an ordinary string (a PEM block). */
const PEM_KEY = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;

/** What replaces a string that holds key material. */
export const REDACTED = "[redacted]";

function _isSecretKey(key: string): boolean {
  const normalised = key.toLowerCase().replace(/[_-]/g, "");
  return SECRET_KEY_PARTS.some((part) => normalised.includes(part));
}

/**
 * A copy of `value` without any field named like a secret (at any depth), and with any
 * string holding a PEM private key replaced by {@linkcode REDACTED}.
 */
export function withoutSecrets<T>(value: T): T {
  if (typeof value === "string") return (PEM_KEY.test(value) ? REDACTED : value) as T;
  if (Array.isArray(value)) return value.map((item) => withoutSecrets(item)) as T;
  if (value === null || typeof value !== "object") return value;
  const copy: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if (!_isSecretKey(key)) copy[key] = withoutSecrets(item);
  }
  return copy as T;
}

/**
 * Fields that name things (ids, rooms, identities) reach indexed and checked columns (an
 * event id is at most 256 characters, webhook_events_id_length): at most this many characters.
 */
export const MAX_NAME_LENGTH = 256;

/**
 * Object paths and URLs reach the unique index on recordings.object_path, whose entries
 * Postgres caps at about 2.7 kB: 512 UTF-16 units are at most 1.5 kB of UTF-8.
 */
export const MAX_PATH_LENGTH = 512;

/** Any other string of an event: error texts, metadata. */
export const MAX_TEXT_LENGTH = 16 * 1024;

const NAME_KEYS = new Set([
  "id",
  "event",
  "sid",
  "name",
  "identity",
  "roomName",
  "roomId",
  "egressId",
  "trackId",
]);

const PATH_KEYS = new Set(["filename", "filepath", "location"]);

/** The fields of `event` that are too long, as `invalid_request` lists them. */
export function oversizedFields(event: unknown): FieldIssue[] {
  const issues: FieldIssue[] = [];
  function walk(value: unknown, path: string[]) {
    if (typeof value === "string") {
      const key = path.at(-1) ?? "";
      const limit = NAME_KEYS.has(key)
        ? MAX_NAME_LENGTH
        : PATH_KEYS.has(key)
        ? MAX_PATH_LENGTH
        : MAX_TEXT_LENGTH;
      if (value.length > limit) {
        issues.push({
          path: path.join("."),
          message: `Must be at most ${limit} characters; it has ${value.length}.`,
        });
      }
    } else if (Array.isArray(value)) {
      value.forEach((item, index) => walk(item, [...path, String(index)]));
    } else if (value !== null && typeof value === "object") {
      for (const [key, item] of Object.entries(value)) walk(item, [...path, key]);
    }
  }
  walk(event, []);
  return issues;
}
