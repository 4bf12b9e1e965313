/**
 * Configuration parsing. Every function parses its settings once per cold start; a missing
 * or weak setting throws at boot with a message naming it (never its value).
 */
import { z } from "zod";

/** Raw environment, as `Deno.env.toObject()` returns it. */
export type RawEnv = Record<string, string | undefined>;

/** A configuration problem found at boot. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** A secret of at least 32 characters, with no fallback. */
export function secret(name: string) {
  return z.string({ error: `${name} is required` }).min(
    32,
    `${name} must be at least 32 characters`,
  );
}

/** An absolute http(s) URL without a trailing slash. */
export function httpUrl(name: string) {
  return z.url({ protocol: /^https?$/, error: `${name} must be an http(s) URL` })
    .transform((value) => value.replace(/\/+$/, ""));
}

/** Treats empty strings as unset, as shells and `.env` files often produce them. */
function withoutEmpty(raw: RawEnv): RawEnv {
  const cleaned: RawEnv = {};
  for (const [key, value] of Object.entries(raw)) {
    if (value !== undefined && value.trim() !== "") cleaned[key] = value;
  }
  return cleaned;
}

/** Settings parsers keyed by the name each part gets in the parsed configuration. */
export type ConfigParts = Record<string, z.ZodType>;

/** The configuration {@linkcode parseConfig} returns for `parts`. */
export type Config<P extends ConfigParts> = { [K in keyof P]: z.output<P[K]> };

/**
 * Parses every part against the same raw environment and throws one {@linkcode ConfigError}
 * naming every bad setting of every part. Values never appear in the message.
 */
export function parseConfig<P extends ConfigParts>(
  parts: P,
  raw: RawEnv = Deno.env.toObject(),
): Config<P> {
  const env = withoutEmpty(raw);
  const problems: string[] = [];
  const config: Record<string, unknown> = {};
  for (const [key, schema] of Object.entries(parts)) {
    const result = schema.safeParse(env);
    if (result.success) config[key] = result.data;
    else problems.push(...result.error.issues.map(describeIssue));
  }
  if (problems.length > 0) throw new ConfigError(`Invalid configuration: ${problems.join("; ")}`);
  return config as Config<P>;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const name = issue.path.join(".");
  return !name || issue.message.includes(name) ? issue.message : `${name}: ${issue.message}`;
}

/** The database connection: `SUPABASE_DB_URL` wins over `DATABASE_URL`. */
export const databaseEnv = z.object({
  SUPABASE_DB_URL: z.string().optional(),
  DATABASE_URL: z.string().optional(),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(50).default(5),
}).transform((env, ctx) => {
  const url = env.SUPABASE_DB_URL ?? env.DATABASE_URL;
  if (!url || !/^postgres(ql)?:\/\//.test(url)) {
    ctx.addIssue({
      code: "custom",
      message: "SUPABASE_DB_URL or DATABASE_URL is required (a postgres:// URL)",
    });
    return z.NEVER;
  }
  return { url, poolSize: env.DATABASE_POOL_SIZE };
});

/** CORS allowlist; `*` only when set explicitly. Unset means no browser origin is allowed. */
export const corsEnv = z.object({
  ALLOWED_ORIGINS: z.string().optional(),
}).transform((env) => ({
  allowedOrigins: (env.ALLOWED_ORIGINS ?? "").split(",").map((origin) => origin.trim())
    .filter(Boolean).map((origin) => origin === "*" ? origin : origin.replace(/\/+$/, "")),
}));

/** How user and service tokens are verified (see `auth.ts`). */
export const authEnv = z.object({
  SUPABASE_URL: httpUrl("SUPABASE_URL"),
  SUPABASE_JWT_SECRET: secret("SUPABASE_JWT_SECRET").optional(),
  SUPABASE_JWKS: z.string().optional(),
  SB_JWT_ISSUER: z.string().optional(),
  SUPABASE_SERVICE_ROLE_KEY: secret("SUPABASE_SERVICE_ROLE_KEY").optional(),
}).transform((env, ctx) => {
  let jwks: { keys: Record<string, unknown>[] } | undefined;
  if (env.SUPABASE_JWKS) {
    try {
      const parsed = JSON.parse(env.SUPABASE_JWKS);
      if (!Array.isArray(parsed?.keys)) throw new Error("no keys");
      jwks = parsed;
    } catch {
      ctx.addIssue({ code: "custom", message: "SUPABASE_JWKS must be a JWKS JSON object" });
      return z.NEVER;
    }
  }
  return {
    supabaseUrl: env.SUPABASE_URL,
    jwtSecret: env.SUPABASE_JWT_SECRET,
    jwks,
    issuer: env.SB_JWT_ISSUER ?? `${env.SUPABASE_URL}/auth/v1`,
    serviceRoleKey: env.SUPABASE_SERVICE_ROLE_KEY,
  };
});

/**
 * Link tokens in emails. During a rotation `LINK_SIGNING_SECRET_PREVIOUS` still verifies the
 * links already sent (it signs nothing); remove it once they may expire
 * (docs/runbooks/rotating-secrets.md).
 */
export const linkEnv = z.object({
  LINK_SIGNING_SECRET: secret("LINK_SIGNING_SECRET"),
  LINK_SIGNING_SECRET_PREVIOUS: secret("LINK_SIGNING_SECRET_PREVIOUS").optional(),
}).transform((env) => ({
  linkSecret: env.LINK_SIGNING_SECRET,
  previousLinkSecret: env.LINK_SIGNING_SECRET_PREVIOUS,
}));

/** Error reporting and the running version. */
export const observabilityEnv = z.object({
  SENTRY_DSN: z.url({ error: "SENTRY_DSN must be a URL" }).optional(),
  SENTRY_ENVIRONMENT: z.string().optional(),
  RELEASE: z.string().optional(),
}).transform((env) => ({
  sentryDsn: env.SENTRY_DSN,
  environment: env.SENTRY_ENVIRONMENT ?? "production",
  release: env.RELEASE ?? "dev",
}));

/**
 * Settings that come as a group: all of the required ones, or none. A partly configured
 * feature fails at boot instead of at its first request. Unset: `undefined`.
 */
export function optionalGroup<T extends z.ZodRawShape>(feature: string, shape: T) {
  const group = z.object(shape);
  const required = Object.entries(shape).filter(([, field]) =>
    !z.safeParse(field, undefined).success
  )
    .map(([name]) => name);
  return z.looseObject({}).transform((raw: Record<string, unknown>, ctx) => {
    const missing = required.filter((name) => raw[name] === undefined);
    if (missing.length === required.length) return undefined;
    if (missing.length > 0) {
      ctx.addIssue({
        code: "custom",
        message: `${missing.join(", ")} must be set too (${feature} is partly configured)`,
      });
      return z.NEVER;
    }
    const result = group.safeParse(raw);
    if (!result.success) {
      for (const issue of result.error.issues) ctx.addIssue({ ...issue, code: "custom" });
      return z.NEVER;
    }
    return result.data;
  });
}

/** LiveKit server and API key pair; optional as a group. */
export const livekitEnv = optionalGroup("LiveKit", {
  LIVEKIT_URL: z.string().regex(/^(wss?|https?):\/\/[^\s]+$/, {
    error: "LIVEKIT_URL must be a ws(s):// or http(s):// URL",
  }),
  LIVEKIT_API_KEY: z.string().min(1, "LIVEKIT_API_KEY is required"),
  LIVEKIT_API_SECRET: secret("LIVEKIT_API_SECRET"),
  LIVEKIT_MAX_PARTICIPANTS: z.coerce.number({ error: "LIVEKIT_MAX_PARTICIPANTS must be a number" })
    .int().min(2).max(10_000).optional(),
  LIVEKIT_TIMEOUT_SECONDS: z.coerce.number({ error: "LIVEKIT_TIMEOUT_SECONDS must be a number" })
    .min(0.1).max(60).default(5),
}).transform((livekit) =>
  livekit && {
    url: livekit.LIVEKIT_URL.replace(/\/+$/, ""),
    /** The same server over HTTP(S), where its Twirp API listens. */
    httpUrl: livekit.LIVEKIT_URL.replace(/^ws/, "http").replace(/\/+$/, ""),
    apiKey: livekit.LIVEKIT_API_KEY,
    apiSecret: livekit.LIVEKIT_API_SECRET,
    maxParticipants: livekit.LIVEKIT_MAX_PARTICIPANTS,
    timeoutSeconds: livekit.LIVEKIT_TIMEOUT_SECONDS,
  }
);

/**
 * During a rotation of LiveKit's key pair, the pair LiveKit may still sign webhooks with
 * (livekit-webhook picks the pair the token names in `iss`). Only the webhook reads it: API
 * calls and grants use `LIVEKIT_API_KEY` alone. Optional as a group.
 */
export const livekitWebhookPreviousEnv = optionalGroup("the previous LiveKit webhook key", {
  LIVEKIT_WEBHOOK_PREVIOUS_API_KEY: z.string().min(
    1,
    "LIVEKIT_WEBHOOK_PREVIOUS_API_KEY is required",
  ),
  LIVEKIT_WEBHOOK_PREVIOUS_API_SECRET: secret("LIVEKIT_WEBHOOK_PREVIOUS_API_SECRET"),
}).transform((previous) =>
  previous && {
    apiKey: previous.LIVEKIT_WEBHOOK_PREVIOUS_API_KEY,
    apiSecret: previous.LIVEKIT_WEBHOOK_PREVIOUS_API_SECRET,
  }
);

/** LiveKit, for the functions that cannot work without it. */
export const livekitRequiredEnv = livekitEnv.transform((livekit, ctx) => {
  if (livekit) return livekit;
  ctx.addIssue({
    code: "custom",
    message: "LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET are required",
  });
  return z.NEVER;
});

const serviceAccount = z.looseObject({
  client_email: z.string().min(1),
  private_key: z.string().includes("PRIVATE KEY"),
  project_id: z.string().optional(),
});

/** The GCS bucket and its service account; optional as a group. */
export const storageEnv = optionalGroup("storage", {
  GCS_API_ENDPOINT: httpUrl("GCS_API_ENDPOINT").optional(),
  GCS_BUCKET: z.string().regex(/^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/, {
    error: "GCS_BUCKET must be a bucket name",
  }),
  GCS_CREDENTIALS: z.string().transform((value, ctx) => {
    try {
      return serviceAccount.parse(JSON.parse(value));
    } catch {
      ctx.addIssue({
        code: "custom",
        message: "GCS_CREDENTIALS must be a service-account JSON with client_email and private_key",
      });
      return z.NEVER;
    }
  }),
}).transform((storage) =>
  storage && {
    bucket: storage.GCS_BUCKET,
    credentials: storage.GCS_CREDENTIALS,
    apiEndpoint: storage.GCS_API_ENDPOINT ?? "https://storage.googleapis.com",
  }
);

/**
 * Where LiveKit egress gets the bucket's credentials: `livekit` (the default) when egress has
 * its own storage configured for the same bucket, so requests carry no credentials (LiveKit
 * echoes requests in its webhooks); `request` to send the service-account JSON in each request.
 */
export const egressEnv = z.object({
  EGRESS_STORAGE: z.enum(["livekit", "request"], {
    error: "EGRESS_STORAGE must be livekit or request",
  }).default("livekit"),
  // LiveKit's 1080p30 preset encodes AAC audio, which egress builds without an AAC encoder
  // (Debian's GStreamer has no faac) cannot do; those record H.264 720p30 with Opus instead.
  EGRESS_ENCODING: z.enum(["h264-1080p30-aac", "h264-720p30-opus"], {
    error: "EGRESS_ENCODING must be h264-1080p30-aac or h264-720p30-opus",
  }).default("h264-1080p30-aac"),
}).transform((env) => ({
  egressStorage: env.EGRESS_STORAGE,
  egressEncoding: env.EGRESS_ENCODING,
}));

/** How many days recordings are kept before retention deletes them. */
export const recordingRetentionEnv = z.object({
  RECORDING_RETENTION_DAYS: z.coerce.number({ error: "RECORDING_RETENTION_DAYS must be a number" })
    .int("RECORDING_RETENTION_DAYS must be a whole number of days")
    .min(1, "RECORDING_RETENTION_DAYS must be at least 1")
    .max(3650, "RECORDING_RETENTION_DAYS must be at most 3650")
    .default(90),
}).transform((env) => ({ retentionDays: env.RECORDING_RETENTION_DAYS }));

/** Signed upload size per streamer per rolling 24 hours (sign-upload-url), 5 GiB by default. */
export const uploadQuotaEnv = z.object({
  UPLOAD_QUOTA_BYTES_PER_DAY: z.coerce.number({
    error: "UPLOAD_QUOTA_BYTES_PER_DAY must be a number",
  }).int("UPLOAD_QUOTA_BYTES_PER_DAY must be a whole number of bytes")
    .min(1, "UPLOAD_QUOTA_BYTES_PER_DAY must be at least 1")
    .max(Number.MAX_SAFE_INTEGER, "UPLOAD_QUOTA_BYTES_PER_DAY is too large")
    .default(5_368_709_120),
}).transform((env) => ({ quotaBytesPerDay: env.UPLOAD_QUOTA_BYTES_PER_DAY }));

/** Email: without `SENDGRID_API_KEY`, mail is captured locally instead of sent. */
export const emailEnv = z.object({
  SENDGRID_API_KEY: z.string().min(20, "SENDGRID_API_KEY is too short to be a key").optional(),
  SENDGRID_API_URL: httpUrl("SENDGRID_API_URL").default("https://api.sendgrid.com"),
  EMAIL_FROM: z.email({ error: "EMAIL_FROM must be an email address" }).optional(),
  APP_NAME: z.string().max(60).default("VR Stream"),
}).transform((env) => ({
  sendgridApiKey: env.SENDGRID_API_KEY,
  sendgridApiUrl: env.SENDGRID_API_URL,
  from: env.EMAIL_FROM,
  appName: env.APP_NAME,
}));

/**
 * What sending email needs beside {@linkcode emailEnv}: with `SENDGRID_API_KEY`, `EMAIL_FROM`
 * too (a key without a sender fails at boot); and how long one SendGrid call may take.
 */
export const emailDeliveryEnv = z.object({
  SENDGRID_API_KEY: z.string().optional(),
  EMAIL_FROM: z.string().optional(),
  SENDGRID_TIMEOUT_SECONDS: z.coerce.number({ error: "SENDGRID_TIMEOUT_SECONDS must be a number" })
    .min(0.1).max(60).default(10),
}).transform((env, ctx) => {
  if (env.SENDGRID_API_KEY && !env.EMAIL_FROM) {
    ctx.addIssue({
      code: "custom",
      message: "EMAIL_FROM must be set too (SENDGRID_API_KEY is set)",
    });
    return z.NEVER;
  }
  return { timeoutSeconds: env.SENDGRID_TIMEOUT_SECONDS };
});

/** The web viewer, where the links in emails point. */
export const viewerEnv = z.object({
  VIEWER_URL: httpUrl("VIEWER_URL"),
}).transform((env) => ({ viewerUrl: env.VIEWER_URL }));

/**
 * Where the functions themselves are reached from outside (the one-click unsubscribe URL, the
 * background outbox drain): `FUNCTIONS_URL`, else `$SUPABASE_URL/functions/v1`.
 */
export const functionsEnv = z.object({
  SUPABASE_URL: httpUrl("SUPABASE_URL"),
  FUNCTIONS_URL: httpUrl("FUNCTIONS_URL").optional(),
}).transform((env) => ({
  functionsUrl: env.FUNCTIONS_URL ?? `${env.SUPABASE_URL}/functions/v1`,
}));
