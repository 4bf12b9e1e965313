/**
 * The settings of the local stack (`dev/stack.ts`): development defaults for what the functions
 * need and nobody set, and the development secrets, generated once and kept in a git-ignored
 * file so that tokens signed before a restart stay valid after it. Precedence, highest first:
 * `startStack`'s explicit `env`, the real environment, `.env`, these defaults. Only names are
 * ever reported, never values.
 */
import { join } from "node:path";
import { freePort } from "./service_process.ts";

/** The port of `deno task dev` when neither `--port` nor `PORT` says otherwise. */
export const DEFAULT_PORT = 54321;

/** Where the local LiveKit listens unless `--livekit-port` says otherwise. */
export const DEFAULT_LIVEKIT_PORT = 7880;

/** Secrets the functions need that are generated when unset. */
const GENERATED_SECRETS = ["SUPABASE_JWT_SECRET", "LINK_SIGNING_SECRET"];
/** The LiveKit settings, filled only all together. */
const LIVEKIT_GROUP = ["LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"];
/** The key name `livekit-server --dev` uses; its secret is generated. */
const DEFAULT_LIVEKIT_API_KEY = "devkey";

/** The port in `PORT`, else {@linkcode DEFAULT_PORT}. */
export function portFromEnv(): number {
  const raw = setting("PORT");
  if (raw === undefined) return DEFAULT_PORT;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`Cannot start the local server: PORT must be a port number, got "${raw}"`);
  }
  return port;
}

/** A setting, with empty strings counted as unset as the functions' parser does. */
export function setting(name: string): string | undefined {
  const value = Deno.env.get(name);
  return value === undefined || value.trim() === "" ? undefined : value;
}

/** Fills unset settings with development values and returns their names. */
export async function applyDefaults(
  url: string,
  options: { secretsFile: string | false; livekitPort: number },
) {
  const defaults: Record<string, string> = {
    SUPABASE_URL: url,
    VIEWER_URL: `${url}/viewer`,
    ALLOWED_ORIGINS: `${url},${url.replace("127.0.0.1", "localhost")}`,
    APP_NAME: "VR Stream (dev)",
    EMAIL_FROM: "no-reply@example.test",
  };
  // The session functions cannot boot without LiveKit. A group is filled only when none of
  // it is set: completing a half-configured group would hide the mistake behind a default.
  const livekitUnset = LIVEKIT_GROUP.every((name) => setting(name) === undefined);
  if (livekitUnset) {
    const port = options.livekitPort === 0 ? freePort() : options.livekitPort;
    defaults.LIVEKIT_URL = `ws://127.0.0.1:${port}`;
    defaults.LIVEKIT_API_KEY = DEFAULT_LIVEKIT_API_KEY;
  }

  const applied: string[] = [];
  for (const [name, value] of Object.entries(defaults)) {
    if (setting(name) !== undefined) continue;
    Deno.env.set(name, value);
    applied.push(name);
  }
  const generated = livekitUnset
    ? [...GENERATED_SECRETS, "LIVEKIT_API_SECRET"]
    : [...GENERATED_SECRETS];
  const missingSecrets = generated.filter((name) => setting(name) === undefined);
  if (missingSecrets.length > 0) {
    const secrets = await devSecrets(options.secretsFile, missingSecrets);
    for (const name of missingSecrets) {
      Deno.env.set(name, secrets[name]);
      applied.push(name);
    }
  }
  return applied;
}

/**
 * Development secrets, generated once and kept in a git-ignored file so that tokens signed
 * before a restart stay valid after it.
 */
async function devSecrets(path: string | false, names: readonly string[]) {
  let stored: Record<string, string> = {};
  if (path !== false) {
    try {
      stored = JSON.parse(await Deno.readTextFile(path));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) {
        throw new Error(`Cannot read the development secrets in ${path}: ${messageOf(error)}`);
      }
    }
  }
  let changed = false;
  for (const name of names) {
    if (typeof stored[name] === "string" && stored[name].length >= 32) continue;
    stored[name] = randomSecret();
    changed = true;
  }
  if (changed && path !== false) {
    await Deno.mkdir(join(path, ".."), { recursive: true });
    await Deno.writeTextFile(path, JSON.stringify(stored, null, 2) + "\n", { mode: 0o600 });
  }
  return stored;
}

function randomSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
