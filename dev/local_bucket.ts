/**
 * The local recordings bucket of `deno task dev` and the end-to-end tier: the project's GCS
 * double (`tests/support/gcs_double.ts`: V4 signatures, preconditions, the token exchange),
 * plus the one thing it lacks for LiveKit egress: the JSON API upload endpoints
 * (`/upload/storage/v1/b/{bucket}/o`, multipart and resumable) that Google's Go client uses
 * under `STORAGE_EMULATOR_HOST`, and land in the double's bucket. Their preconditions hold as
 * in GCS: `ifGenerationMatch` (or the `x-goog-if-generation-match` header) must name the live
 * object's generation, and `0` means "only if there is none", else `412 conditionNotMet`,
 * checked when a resumable upload starts and again when it completes. Reads go to the double,
 * which serves byte ranges (`206`, `Content-Range`, `Accept-Ranges`). That client sends no
 * credentials to an emulator (it adds `WithoutAuthentication`), so, like other emulators,
 * this port accepts unauthenticated uploads; it listens on loopback only, and a token that is
 * sent must be one the double issued (checked by asking the double).
 *
 * The double keeps objects in memory; with `dataDir` they are loaded from it at start and
 * written back at stop, so recordings survive a restart of `deno task dev`.
 * See {@linkcode startLocalBucket}.
 */
import { dirname, join, relative } from "node:path";
import { type GcsDouble, startGcsDouble } from "../tests/support/gcs_double.ts";

/** Options of {@linkcode startLocalBucket}. */
export interface LocalBucketOptions {
  /** @default {"vrstream-recordings-dev"} */
  bucket?: string;
  /** Folder whose files are the bucket's objects across restarts; none: memory only. */
  dataDir?: string;
}

/** A running local bucket. */
export interface LocalBucket {
  double: GcsDouble;
  /** `GCS_BUCKET`, `GCS_CREDENTIALS` and `GCS_API_ENDPOINT` for the functions. */
  env: Record<string, string>;
  /** `host:port` for egress's `STORAGE_EMULATOR_HOST`. */
  emulatorHost: string;
  /** The service-account JSON egress uploads with (its `token_uri` is the double's). */
  credentialsJson: string;
  /** Uploads received through the JSON API so far (object names). */
  uploads: string[];
  stop(): Promise<void>;
}

interface Resumable {
  name: string;
  /** The upload's `ifGenerationMatch`, checked again when it completes. */
  ifGenerationMatch: string | null;
  contentType: string;
  chunks: Uint8Array[];
  received: number;
}

/** Starts the bucket on loopback. */
export async function startLocalBucket(options: LocalBucketOptions = {}): Promise<LocalBucket> {
  const double = await startGcsDouble({ bucket: options.bucket ?? "vrstream-recordings-dev" });
  if (options.dataDir) await load(double, options.dataDir);
  const resumables = new Map<string, Resumable>();
  const uploads: string[] = [];

  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (request) => {
      try {
        return await receive(request);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        return Response.json({ error: { code: 400, message } }, { status: 400 });
      }
    },
  );
  const emulatorHost = `127.0.0.1:${server.addr.port}`;

  async function authorized(request: Request): Promise<boolean> {
    const authorization = request.headers.get("authorization");
    if (!authorization) return true; // an emulator client (see the module's documentation)
    // The double answers 404 (no such object) to a token it issued, 401 to anything else.
    const probe = await fetch(
      `${double.url}/storage/v1/b/${encodeURIComponent(double.bucket)}/o/${
        encodeURIComponent(".token-probe")
      }`,
      { headers: { authorization } },
    );
    await probe.body?.cancel();
    return probe.status !== 401;
  }

  /** GCS's precondition failure, or undefined when `condition` holds (or there is none). */
  function preconditionFailed(name: string, condition: string | null): Response | undefined {
    if (condition === null) return undefined;
    const live = double.objects.get(name)?.generation ?? "0";
    if (/^\d+$/.test(condition) && condition === live) return undefined;
    return Response.json({
      error: {
        code: 412,
        message: "At least one of the pre-conditions you specified did not hold.",
        errors: [{
          domain: "global",
          reason: "conditionNotMet",
          message: "At least one of the pre-conditions you specified did not hold.",
          locationType: "header",
          location: "If-Match",
        }],
      },
    }, { status: 412 });
  }

  function stored(
    name: string,
    data: Uint8Array,
    contentType: string,
    ifGenerationMatch: string | null,
  ): Response {
    const refused = preconditionFailed(name, ifGenerationMatch);
    if (refused) return refused;
    const object = double.put(name, new Uint8Array(data), contentType);
    uploads.push(name);
    return Response.json({
      kind: "storage#object",
      bucket: double.bucket,
      name,
      generation: object.generation,
      contentType,
      size: String(object.data.byteLength),
      timeCreated: object.createdAt.toISOString(),
    });
  }

  async function receive(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const match = /^\/upload\/storage\/v1\/b\/([^/]+)\/o\/?$/.exec(url.pathname);
    if (!match) {
      return Response.json({ error: { code: 404, message: "Not Found" } }, { status: 404 });
    }
    if (decodeURIComponent(match[1]) !== double.bucket) {
      return Response.json({ error: { code: 404, message: "No such bucket" } }, { status: 404 });
    }
    if (!await authorized(request)) {
      return Response.json({ error: { code: 401, message: "Invalid Credentials" } }, {
        status: 401,
      });
    }
    const uploadType = url.searchParams.get("uploadType");
    const uploadId = url.searchParams.get("upload_id");
    const ifGenerationMatch = url.searchParams.get("ifGenerationMatch") ??
      request.headers.get("x-goog-if-generation-match");
    if (request.method === "POST" && uploadType === "multipart") {
      const { metadata, data } = await multipart(request);
      const name = String(metadata.name ?? url.searchParams.get("name") ?? "");
      return stored(
        name,
        data,
        String(metadata.contentType ?? "application/octet-stream"),
        ifGenerationMatch,
      );
    }
    if (request.method === "POST" && uploadType === "resumable" && !uploadId) {
      const text = await request.text();
      const metadata = text ? JSON.parse(text) as Record<string, unknown> : {};
      const name = String(metadata.name ?? url.searchParams.get("name") ?? "");
      const refused = preconditionFailed(name, ifGenerationMatch);
      if (refused) return refused;
      const id = crypto.randomUUID();
      resumables.set(id, {
        name,
        ifGenerationMatch,
        contentType: String(
          metadata.contentType ?? request.headers.get("x-upload-content-type") ??
            "application/octet-stream",
        ),
        chunks: [],
        received: 0,
      });
      const location = new URL(url);
      location.searchParams.set("upload_id", id);
      return new Response(null, { status: 200, headers: { location: location.href } });
    }
    if ((request.method === "PUT" || request.method === "POST") && uploadId) {
      const upload = resumables.get(uploadId);
      if (!upload) {
        return Response.json({ error: { code: 404, message: "No such upload" } }, { status: 404 });
      }
      const chunk = new Uint8Array(await request.arrayBuffer());
      if (chunk.byteLength > 0) {
        upload.chunks.push(chunk);
        upload.received += chunk.byteLength;
      }
      // "bytes 0-99/100", "bytes 0-99/*" or "bytes */100".
      const range = /\/(\d+|\*)$/.exec(request.headers.get("content-range") ?? "");
      const total = range && range[1] !== "*" ? Number(range[1]) : undefined;
      if (total === undefined || upload.received < total) {
        return new Response(null, {
          status: 308,
          headers: upload.received > 0 ? { range: `bytes=0-${upload.received - 1}` } : {},
        });
      }
      resumables.delete(uploadId);
      const data = new Uint8Array(upload.received);
      let offset = 0;
      for (const part of upload.chunks) {
        data.set(part, offset);
        offset += part.byteLength;
      }
      return stored(upload.name, data, upload.contentType, upload.ifGenerationMatch);
    }
    return Response.json({ error: { code: 400, message: "Unsupported upload request" } }, {
      status: 400,
    });
  }

  let stopping: Promise<void> | undefined;
  return {
    double,
    env: double.env,
    emulatorHost,
    credentialsJson: JSON.stringify(double.credentials),
    uploads,
    stop: () =>
      stopping ??= (async () => {
        await server.shutdown();
        if (options.dataDir) await save(double, options.dataDir);
        await double.close();
      })(),
  };
}

/** A `multipart/related` body: a JSON metadata part, then the data part. */
async function multipart(request: Request) {
  const boundary = /boundary="?([^";]+)"?/.exec(request.headers.get("content-type") ?? "")?.[1];
  if (!boundary) throw new Error("A multipart upload needs a boundary");
  const body = new Uint8Array(await request.arrayBuffer());
  const text = new TextDecoder("latin1").decode(body);
  const parts = text.split(`--${boundary}`).slice(1, -1);
  if (parts.length !== 2) throw new Error("A multipart upload has two parts");
  const partBody = (part: string) => part.slice(part.indexOf("\r\n\r\n") + 4, -2);
  const metadata = JSON.parse(partBody(parts[0])) as Record<string, unknown>;
  const dataStart = text.indexOf(parts[1]) + parts[1].indexOf("\r\n\r\n") + 4;
  const dataEnd = dataStart + partBody(parts[1]).length;
  return { metadata, data: body.slice(dataStart, dataEnd) };
}

async function load(double: GcsDouble, dataDir: string): Promise<void> {
  async function walk(folder: string): Promise<void> {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(folder));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      throw error;
    }
    for (const entry of entries) {
      const path = join(folder, entry.name);
      if (entry.isDirectory) await walk(path);
      else if (entry.isFile) {
        const name = relative(dataDir, path);
        double.put(
          name,
          await Deno.readFile(path),
          name.endsWith(".webm") ? "video/webm" : "video/mp4",
        );
      }
    }
  }
  await walk(dataDir);
}

async function save(double: GcsDouble, dataDir: string): Promise<void> {
  await Deno.remove(dataDir, { recursive: true }).catch(() => {});
  for (const object of double.objects.values()) {
    const path = join(dataDir, object.name);
    if (relative(dataDir, path).startsWith("..")) continue;
    await Deno.mkdir(dirname(path), { recursive: true });
    await Deno.writeFile(path, object.data);
  }
}
