/** Reading request bodies: size limits first, then JSON, then the operation's zod schema. */
import { z } from "zod";
import { HttpError, invalidRequest } from "./errors.ts";

/** The contract's limit for ordinary bodies. */
export const DEFAULT_BODY_LIMIT = 64 * 1024;

/** The contract's limit for LiveKit webhooks. */
export const WEBHOOK_BODY_LIMIT = 1024 * 1024;

function tooLarge(limit: number): HttpError {
  return new HttpError(
    413,
    "payload_too_large",
    `The request body is larger than the limit of ${limit} bytes.`,
  );
}

/** Bytes of an oversized body read and thrown away before answering 413. */
const DISCARD_LIMIT = 4 * 1024 * 1024;

/**
 * Reads and drops what is left of an oversized body (up to {@linkcode DISCARD_LIMIT}), so the
 * client that is still sending gets the 413 instead of a broken connection.
 */
async function discard(reader: ReadableStreamDefaultReader<Uint8Array> | undefined) {
  if (!reader) return;
  let dropped = 0;
  try {
    while (dropped <= DISCARD_LIMIT) {
      const { done, value } = await reader.read();
      if (done) return;
      dropped += value.byteLength;
    }
    await reader.cancel();
  } catch {
    // The client went away; there is nobody left to answer.
  }
}

/**
 * Reads the raw body as text, refusing anything over `limit` bytes without buffering it all.
 * An empty body reads as "".
 */
export async function readText(
  request: Request,
  limit: number = DEFAULT_BODY_LIMIT,
): Promise<string> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (Number.isFinite(declared) && declared > limit) {
    await discard(request.body?.getReader());
    throw tooLarge(limit);
  }
  if (!request.body) return "";
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await discard(reader);
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new HttpError(400, "invalid_json", "The request body is not valid UTF-8.");
  }
}

/**
 * Parses JSON text that must be an object. An empty body counts as `{}`, so a missing required
 * field is reported by name rather than as broken JSON.
 */
export function parseJsonObject(text: string): Record<string, unknown> {
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new HttpError(400, "invalid_json", "The request body is not valid JSON.");
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new HttpError(400, "invalid_json", "The request body must be a JSON object.");
  }
  return value as Record<string, unknown>;
}

/** Validates `input` with `schema`, or throws `400 invalid_request` listing each field. */
export function validate<T extends z.ZodType>(schema: T, input: unknown): z.output<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  // An unknown field is a failed field of its own: its path names it.
  throw invalidRequest(
    result.error.issues.flatMap((issue) =>
      issue.code === "unrecognized_keys"
        ? issue.keys.map((key) => ({
          path: [...issue.path, key].map(String).join("."),
          message: `Unknown field: ${key}`,
        }))
        : [{ path: issue.path.map(String).join("."), message: issue.message }]
    ),
  );
}

/** Options of {@linkcode readJson}. */
export interface ReadJsonOptions {
  /** Largest accepted body in bytes. @default {64 KiB} */
  limit?: number;
}

/** Reads, parses and validates a JSON object body. */
export async function readJson<T extends z.ZodType>(
  request: Request,
  schema: T,
  options: ReadJsonOptions = {},
): Promise<z.output<T>> {
  const text = await readText(request, options.limit ?? DEFAULT_BODY_LIMIT);
  return validate(schema, parseJsonObject(text));
}

/** Validates the query string (`?a=b`) with `schema`; repeated or unknown keys are errors. */
export function readQuery<T extends z.ZodType>(request: Request, schema: T): z.output<T> {
  const params = new URL(request.url).searchParams;
  const query: Record<string, string | string[]> = {};
  for (const key of new Set(params.keys())) {
    const values = params.getAll(key);
    query[key] = values.length === 1 ? values[0] : values;
  }
  return validate(schema, query);
}
