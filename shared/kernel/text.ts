/**
 * Text a person typed (names, titles, client descriptions): one rule for every function.
 * Such text may reach email subjects, logs and other people's screens, so it refuses Unicode
 * control characters (Cc: NUL, CR, LF, tab…), format characters (Cf: bidi overrides such as
 * U+202E, zero-width characters, soft hyphens), unpaired surrogates (Cs) and the line and
 * paragraph separators U+2028 and U+2029, with `400 invalid_request` naming the field.
 */
import { z } from "zod";

/** What {@linkcode safeText} refuses anywhere in the text, even at its ends. */
const UNSAFE_CHARACTERS = /[\p{Cc}\p{Cf}\p{Cs}\u2028\u2029]/u;

/** Whether `text` holds a character that {@linkcode safeText} refuses. */
export function hasUnsafeCharacters(text: string): boolean {
  return UNSAFE_CHARACTERS.test(text);
}

/** Options of {@linkcode safeText}. */
export interface SafeTextOptions {
  /** Longest accepted text in characters (UTF-16 code units), after trimming. */
  max: number;
  /** Shortest accepted text after trimming. @default {1} */
  min?: number;
  /** Whether surrounding spaces are removed before the length checks. @default {true} */
  trim?: boolean;
  /** What the text is, for messages: "The title must…". @default {"The text"} */
  label?: string;
}

/**
 * A zod schema for typed text: a string whose every character is printable on one line, of
 * `min..max` characters. The character rule is checked on the text as sent, before trimming, so
 * a trailing CR/LF is refused rather than silently dropped.
 */
export function safeText(options: SafeTextOptions): z.ZodString {
  const label = options.label ?? "The text";
  const min = options.min ?? 1;
  let schema = z.string().refine((text) => !hasUnsafeCharacters(text), {
    error:
      `${label} must not contain control or format characters (such as line breaks, bidi overrides or zero-width characters).`,
    abort: true,
  });
  if (options.trim ?? true) schema = schema.trim();
  if (min > 0) {
    schema = schema.min(
      min,
      min === 1 ? `${label} must not be empty.` : `${label} must be at least ${min} characters.`,
    );
  }
  return schema.max(options.max, `${label} must be at most ${options.max} characters.`);
}
