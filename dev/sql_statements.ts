/**
 * Splits a SQL script into statements the way the Supabase CLI records them in
 * `supabase_migrations.schema_migrations.statements`: each statement as written (leading
 * comments included), without its terminating semicolon, trimmed; empty ones dropped.
 * Semicolons inside quotes, dollar quotes, comments and parentheses do not split.
 *
 * @module
 */

const DOLLAR_TAG = /\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/y;
const IDENTIFIER_CHAR = /[A-Za-z0-9_\u0080-\uffff$]/;

/**
 * Splits `script` into its statements.
 *
 * @example
 * ```ts
 * splitSqlStatements("create table a (x int);\n-- b\nselect ';';");
 * // => ["create table a (x int)", "-- b\nselect ';'"]
 * ```
 */
export function splitSqlStatements(script: string): string[] {
  const pieces: string[] = [];
  let start = 0;
  let depth = 0;
  let i = 0;
  while (i < script.length) {
    const char = script[i];
    const next = script[i + 1];
    if (char === "-" && next === "-") {
      const end = script.indexOf("\n", i);
      i = end === -1 ? script.length : end + 1;
    } else if (char === "/" && next === "*") {
      i = skipBlockComment(script, i);
    } else if (char === "'" || char === '"') {
      i = skipQuoted(script, i, char === "'" && isEscapeStringPrefix(script, i));
    } else if (char === "$" && !IDENTIFIER_CHAR.test(script[i - 1] ?? " ")) {
      DOLLAR_TAG.lastIndex = i;
      const tag = DOLLAR_TAG.exec(script)?.[0];
      if (tag === undefined) {
        i += 1;
      } else {
        const end = script.indexOf(tag, i + tag.length);
        i = end === -1 ? script.length : end + tag.length;
      }
    } else {
      if (char === "(") depth += 1;
      if (char === ")" && depth > 0) depth -= 1;
      if (char === ";" && depth === 0) {
        pieces.push(script.slice(start, i + 1));
        start = i + 1;
      }
      i += 1;
    }
  }
  pieces.push(script.slice(start));
  return pieces
    .map((piece) => piece.replace(/;+$/, "").trim())
    .filter((statement) => statement.length > 0);
}

function skipBlockComment(script: string, from: number): number {
  let depth = 0;
  let i = from;
  while (i < script.length) {
    if (script.startsWith("/*", i)) {
      depth += 1;
      i += 2;
    } else if (script.startsWith("*/", i)) {
      depth -= 1;
      i += 2;
      if (depth === 0) return i;
    } else {
      i += 1;
    }
  }
  return script.length;
}

function skipQuoted(script: string, from: number, backslashEscapes: boolean): number {
  const quote = script[from];
  let i = from + 1;
  while (i < script.length) {
    const char = script[i];
    if (backslashEscapes && char === "\\") {
      i += 2;
    } else if (char === quote) {
      if (script[i + 1] === quote) {
        i += 2;
      } else {
        return i + 1;
      }
    } else {
      i += 1;
    }
  }
  return script.length;
}

/** True for the `E` of an escape string constant such as `E'it\'s'`. */
function isEscapeStringPrefix(script: string, quoteAt: number): boolean {
  const prefix = script[quoteAt - 1];
  if (prefix !== "E" && prefix !== "e") return false;
  return !IDENTIFIER_CHAR.test(script[quoteAt - 2] ?? " ");
}
