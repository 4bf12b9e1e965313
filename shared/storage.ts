/**
 * The recordings bucket, through `@google-cloud/storage` and the service account of
 * `GCS_CREDENTIALS`: V4 signed URLs are signed offline with its private key; object metadata
 * and deletion go through the JSON API with an OAuth token the SDK exchanges for a JWT-bearer
 * assertion. Nothing of GCS is hand-rolled here: this module only configures the SDK.
 *
 * The SDK is imported on first use rather than at module load: it is by far the heaviest
 * import of the functions that use it (see the README's cold-start figures), and requests
 * that fail before they reach storage, or isolates that never serve one, should not pay for
 * it.
 */
import type { Storage } from "@google-cloud/storage";
import process from "node:process";
import type { z } from "zod";
import type { storageEnv } from "./kernel/env.ts";
import { HttpError, unavailable } from "./kernel/errors.ts";
import { isSafeObjectPath } from "./object_paths.ts";

/** The bucket, its service account and the API endpoint, as `storageEnv` parses them. */
export type StorageSettings = NonNullable<z.output<typeof storageEnv>>;

/** An object's metadata, as the JSON API reports it. */
export interface StoredObject {
  name: string;
  sizeBytes: number;
  contentType: string | null;
}

/** A signed request a client makes to the bucket itself. */
export interface SignedRequest {
  url: string;
  method: "GET" | "PUT";
  /** Headers the client must send exactly as given (they are part of the signature). */
  headers: Record<string, string>;
  expiresAt: Date;
}

/** Options of {@linkcode ObjectStorage.signUpload}. */
export interface SignUploadOptions {
  contentType: string;
  /** The exact size the upload must have, bound with `x-goog-content-length-range`. */
  sizeBytes: number;
  /** When the URL becomes valid (the signature's date). */
  now: Date;
  /** @default {900} */
  lifetimeSeconds?: number;
}

/** Options of {@linkcode ObjectStorage.signDownload}. */
export interface SignDownloadOptions {
  /** When the URL becomes valid (the signature's date). */
  now: Date;
  /** When it stops working; at most seven days after `now` (V4's limit). */
  expiresAt: Date;
  /** `Content-Disposition` the bucket answers with (`response-content-disposition`). */
  contentDisposition?: string;
}

/** The operations the functions need of the bucket. */
export interface ObjectStorage {
  readonly bucket: string;
  /**
   * A V4 signed `PUT` that binds the content type and the exact size, and creates the object
   * only if it does not exist yet (`x-goog-if-generation-match: 0`: a second `PUT` with the
   * same URL is `412 Precondition Failed`, so it can never replace bytes). Offline.
   */
  signUpload(name: string, options: SignUploadOptions): Promise<SignedRequest>;
  /** A V4 signed `GET`. Offline. */
  signDownload(
    name: string,
    options: SignDownloadOptions,
  ): Promise<SignedRequest>;
  /** The object's metadata, or undefined when there is no such object. */
  stat(name: string): Promise<StoredObject | undefined>;
  /** Deletes the object; false when it was already gone. */
  remove(name: string): Promise<boolean>;
}

/** Options of {@linkcode createObjectStorage}. */
export interface ObjectStorageOptions {
  /** Per HTTP request to GCS (token exchange included), in milliseconds. @default {5000} */
  timeoutMs?: number;
}

/** The upload URL's lifetime the contract asks for: 15 minutes. */
export const UPLOAD_URL_LIFETIME_SECONDS = 15 * 60;

/** Where the SDK sends its token exchange, whatever the credentials' `token_uri` says. */
const GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token";

type StorageSdk = typeof import("@google-cloud/storage");
let sdk: Promise<StorageSdk> | undefined;

function loadSdk(): Promise<StorageSdk> {
  ensureOwnProcessEnv();
  sdk ??= import("@google-cloud/storage").catch((error) => {
    sdk = undefined;
    throw error;
  });
  return sdk;
}

/**
 * Deno before 2.2, and so the edge runtime's Deno 2.1, keeps `env` on the prototype of
 * `node:process`. The SDK's auth stack (google-logging-utils, via gcp-metadata) copies the
 * module's own keys (TypeScript's `__importStar`) and then fails at import reading
 * `process.env.GOOGLE_SDK_NODE_LOGGING`. Deno 2.2 made `env` an own property
 * (denoland/deno#27891); this does the same where it is still missing.
 */
function ensureOwnProcessEnv(): void {
  if (Object.hasOwn(process, "env")) return;
  Object.defineProperty(process, "env", {
    value: process.env,
    enumerable: true,
    configurable: true,
    writable: true,
  });
}

const storages = new Map<string, ObjectStorage>();

/**
 * The storage for `settings`, created on first use and shared by every function of the process
 * (so the local server's functions share one SDK client and one access token).
 */
export function getObjectStorage(settings: StorageSettings): ObjectStorage {
  const key = `${settings.apiEndpoint} ${settings.bucket} ${settings.credentials.client_email}`;
  let storage = storages.get(key);
  if (!storage) {
    storage = createObjectStorage(settings);
    storages.set(key, storage);
  }
  return storage;
}

/** Creates a storage for `settings`; the SDK loads when the first operation runs. */
export function createObjectStorage(
  settings: StorageSettings,
  options: ObjectStorageOptions = {},
): ObjectStorage {
  const timeoutMs = options.timeoutMs ?? 5000;
  let client: Promise<Storage> | undefined;

  function storage(): Promise<Storage> {
    client ??= connect(settings, timeoutMs).catch((error) => {
      client = undefined;
      throw error;
    });
    return client;
  }

  async function file(name: string) {
    // Every name is built by the server; one with a dot segment is a bug, never sent to GCS.
    if (!isSafeObjectPath(name)) throw new Error("Refusing an object name with a dot segment");
    return (await storage()).bucket(settings.bucket).file(name);
  }

  return {
    bucket: settings.bucket,

    async signUpload(name, upload) {
      const lifetime = upload.lifetimeSeconds ?? UPLOAD_URL_LIFETIME_SECONDS;
      const expiresAt = new Date(wholeSeconds(upload.now) + lifetime * 1000);
      const extensionHeaders = {
        "x-goog-content-length-range": `${upload.sizeBytes},${upload.sizeBytes}`,
        "x-goog-if-generation-match": "0",
      };
      const headers = { "content-type": upload.contentType, ...extensionHeaders };
      const [url] = await (await file(name)).getSignedUrl({
        version: "v4",
        action: "write",
        accessibleAt: new Date(wholeSeconds(upload.now)),
        expires: expiresAt,
        contentType: upload.contentType,
        extensionHeaders,
      });
      return { url, method: "PUT", headers, expiresAt };
    },

    async signDownload(name, download) {
      const expiresAt = new Date(
        Math.floor(download.expiresAt.getTime() / 1000) * 1000,
      );
      const [url] = await (await file(name)).getSignedUrl({
        version: "v4",
        action: "read",
        accessibleAt: new Date(wholeSeconds(download.now)),
        expires: expiresAt,
        ...(download.contentDisposition
          ? { responseDisposition: download.contentDisposition }
          : {}),
      });
      return { url, method: "GET", headers: {}, expiresAt };
    },

    async stat(name) {
      try {
        const [metadata] = await (await file(name)).getMetadata();
        return {
          name,
          sizeBytes: Number(metadata.size),
          contentType: typeof metadata.contentType === "string" ? metadata.contentType : null,
        };
      } catch (error) {
        if (isNotFound(error)) return undefined;
        throw storageFailure(error);
      }
    },

    async remove(name) {
      try {
        await (await file(name)).delete();
        return true;
      } catch (error) {
        if (isNotFound(error)) return false;
        throw storageFailure(error);
      }
    },
  };
}

/** Signatures carry whole seconds; signing from them keeps `expiresAt` exact. */
function wholeSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000) * 1000;
}

async function connect(
  settings: StorageSettings,
  timeoutMs: number,
): Promise<Storage> {
  const { Storage } = await loadSdk();
  const storage = new Storage({
    apiEndpoint: settings.apiEndpoint,
    // Another endpoint (an emulator, the tests' double) is still called with the service
    // account's token; without this the SDK would call it anonymously.
    useAuthWithCustomEndpoint: true,
    credentials: settings.credentials,
    projectId: settings.credentials.project_id,
    timeout: timeoutMs,
    // A request fails over to `503 storage_unavailable` within seconds instead of retrying
    // for the SDK's default ten minutes.
    retryOptions: {
      autoRetry: true,
      maxRetries: 2,
      maxRetryDelay: 1,
      totalTimeout: 10,
    },
  });
  const auth = await storage.authClient.getClient();
  const tokenUri = typeof settings.credentials.token_uri === "string"
    ? settings.credentials.token_uri
    : GOOGLE_TOKEN_URL;
  // The token exchange gets the API calls' time limit, and one retry rather than three, so an
  // unreachable token endpoint is a 503 within seconds too.
  const defaults = auth.transporter.defaults;
  auth.transporter.defaults = {
    ...defaults,
    timeout: defaults.timeout || timeoutMs,
    retryConfig: { ...defaults.retryConfig, retry: 1 },
  };
  // The SDK's auth library posts every service-account token exchange to Google's fixed URL
  // and ignores the credentials' `token_uri`; honour it, as Google's other libraries do.
  auth.transporter.interceptors.request.add({
    resolved(config) {
      if (
        tokenUri !== GOOGLE_TOKEN_URL && String(config.url) === GOOGLE_TOKEN_URL
      ) {
        config.url = new URL(tokenUri);
      }
      return Promise.resolve(config);
    },
  });
  return storage;
}

function isNotFound(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 404;
}

/** Anything that goes wrong talking to GCS is the dependency's: `503 storage_unavailable`. */
function storageFailure(error: unknown): HttpError {
  return error instanceof HttpError ? error : unavailable("storage", error);
}
