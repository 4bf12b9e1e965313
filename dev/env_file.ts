/**
 * Reads the git-ignored `.env` file of the local stack: `KEY=VALUE` lines, `#` comments,
 * optional `export ` prefixes and optional single or double quotes around values.
 */

const LINE = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/;

/** Parses the text of a `.env` file; later lines win over earlier ones. */
export function parseEnvFile(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [index, line] of text.split(/\r?\n/).entries()) {
    if (/^\s*(#|$)/.test(line)) continue;
    const match = LINE.exec(line);
    if (!match) {
      throw new Error(`Cannot read .env line ${index + 1}: expected KEY=VALUE`);
    }
    values[match[1]] = unquote(match[2]);
  }
  return values;
}

function unquote(raw: string): string {
  const quote = raw[0];
  if ((quote === '"' || quote === "'") && raw.length >= 2) {
    const end = raw.indexOf(quote, 1);
    if (end > 0) return raw.slice(1, end);
  }
  // An unquoted value may end with a comment, but only after whitespace: secrets may hold `#`.
  return raw.replace(/\s+#.*$/, "");
}

/** Options of {@linkcode loadEnvFile}. */
export interface LoadEnvFileOptions {
  /** Where values go, unless already set there. @default Deno.env */
  env?: Pick<typeof Deno.env, "get" | "set">;
}

/**
 * Copies the file's values into the environment where the environment has no value of its
 * own (the real environment wins). Returns the names it set; a missing file sets nothing.
 */
export async function loadEnvFile(
  path: string,
  options: LoadEnvFileOptions = {},
): Promise<string[]> {
  const env = options.env ?? Deno.env;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  const applied: string[] = [];
  for (const [name, value] of Object.entries(parseEnvFile(text))) {
    if (env.get(name)) continue;
    env.set(name, value);
    applied.push(name);
  }
  return applied;
}
