/**
 * A loopback HTTP/1.1 proxy in front of the local server, for the Unity client's tests: it
 * forwards `/functions/v1/*` to the server and, when told to, loses a response after the
 * server handled the request (the connection closes with no byte of answer), or answers a
 * `429 rate_limited` with `Retry-After` or a `503` itself. It speaks raw HTTP over TCP so
 * that "the response was lost" is exactly that, not a response with an error status. Paths
 * it does not forward go to `local` (the Supabase Auth stand-in and the test controls).
 *
 * Each connection carries one exchange (`connection: close`).
 */

/** One thing to do instead of forwarding normally, for the next call of a function. */
export type Fault =
  | { kind: "drop" }
  | { kind: "status"; status: 429 | 503; retryAfterSeconds?: number };

/** One call of a function the proxy saw. */
export interface ProxiedCall {
  function: string;
  method: string;
  idempotencyKey: string | null;
  requestId: string | null;
  /** The status sent back, or `null` when the response was dropped. */
  status: number | null;
  fault: Fault["kind"] | null;
}

/** Options of {@linkcode startFaultProxy}. */
export interface FaultProxyOptions {
  /** Answers paths outside `/functions/v1/`; `undefined` means 404. */
  local(request: Request): Promise<Response | undefined>;
}

/** A running proxy. */
export interface FaultProxy {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** Where `/functions/v1/*` goes, such as the local server's URL; set before the first call. */
  upstream: string;
  /** Queues faults for the next calls of `fn` (one fault per call, in order). */
  inject(fn: string, faults: Fault[]): void;
  calls: ProxiedCall[];
  /** Forgets queued faults and seen calls. */
  reset(): void;
  close(): Promise<void>;
}

const MAX_HEAD_BYTES = 64 * 1024;
const MAX_BODY_BYTES = 2 * 1024 * 1024;
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "content-length",
  "content-encoding",
  "host",
  "expect",
]);

/** Starts the proxy on 127.0.0.1, on a free port. */
export function startFaultProxy(options: FaultProxyOptions): FaultProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const url = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
  const faults = new Map<string, Fault[]>();
  const open = new Set<Deno.Conn>();

  const proxy: FaultProxy = {
    url,
    upstream: "",
    calls: [],
    inject(fn, list) {
      faults.set(fn, [...(faults.get(fn) ?? []), ...list]);
    },
    reset() {
      faults.clear();
      proxy.calls.length = 0;
    },
    async close() {
      listener.close();
      for (const conn of open) _closeQuietly(conn);
      await accepting;
    },
  };

  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        open.add(conn);
        serve(conn).finally(() => {
          open.delete(conn);
          _closeQuietly(conn);
        });
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource)) throw error;
    }
  })();

  async function serve(conn: Deno.Conn): Promise<void> {
    let request: Request;
    try {
      request = await _readRequest(conn, url);
    } catch (error) {
      await _writeResponse(conn, new Response(String(error), { status: 400 })).catch(() => {});
      return;
    }
    const path = new URL(request.url).pathname;
    const match = /^\/functions\/v1\/([a-z-]+)/.exec(path);
    if (!match) {
      const response = await options.local(request) ??
        Response.json({ message: "Not found" }, { status: 404 });
      await _writeResponse(conn, response);
      return;
    }
    const fn = match[1];
    const fault = faults.get(fn)?.shift();
    const call: ProxiedCall = {
      function: fn,
      method: request.method,
      idempotencyKey: request.headers.get("idempotency-key"),
      requestId: request.headers.get("x-request-id"),
      status: null,
      fault: fault?.kind ?? null,
    };
    proxy.calls.push(call);
    if (fault?.kind === "status") {
      const response = _errorResponse(fault, call.requestId);
      call.status = response.status;
      await _writeResponse(conn, response);
      return;
    }
    const response = await forward(request);
    if (fault?.kind === "drop") {
      // The server did the work; its answer never reaches the client.
      await response.body?.cancel();
      return;
    }
    call.status = response.status;
    await _writeResponse(conn, response);
  }

  async function forward(request: Request): Promise<Response> {
    const target = new URL(request.url);
    const headers = new Headers();
    for (const [name, value] of request.headers) {
      if (!HOP_BY_HOP.has(name)) headers.set(name, value);
    }
    const body = request.body ? await request.arrayBuffer() : undefined;
    return await fetch(`${proxy.upstream}${target.pathname}${target.search}`, {
      method: request.method,
      headers,
      body,
      redirect: "manual",
    });
  }

  return proxy;
}

/** The contract's error body, as the functions would send it. */
function _errorResponse(
  fault: Extract<Fault, { kind: "status" }>,
  requestId: string | null,
): Response {
  const id = requestId ?? crypto.randomUUID();
  const [code, message] = fault.status === 429
    ? ["rate_limited", "Too many requests: try again later."]
    : ["database_unavailable", "The database is not reachable right now."];
  const headers: Record<string, string> = { "x-request-id": id };
  if (fault.retryAfterSeconds !== undefined) headers["retry-after"] = `${fault.retryAfterSeconds}`;
  return Response.json({ error: { code, message, requestId: id } }, {
    status: fault.status,
    headers,
  });
}

async function _readRequest(conn: Deno.Conn, base: string): Promise<Request> {
  let buffer: Uint8Array = new Uint8Array(0);
  let headEnd = -1;
  while (headEnd < 0) {
    const chunk = await _readChunk(conn);
    if (!chunk) throw new Error("The connection closed before a request head.");
    buffer = _concat(buffer, chunk);
    headEnd = _indexOfHeadEnd(buffer);
    if (headEnd < 0 && buffer.length > MAX_HEAD_BYTES) throw new Error("Request head too large.");
  }
  const head = new TextDecoder().decode(buffer.subarray(0, headEnd));
  const [requestLine, ...lines] = head.split("\r\n");
  const [method, target] = requestLine.split(" ");
  const headers = new Headers();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  if (headers.get("transfer-encoding")) {
    throw new Error("Chunked request bodies are not supported by this proxy.");
  }
  if (headers.get("expect")?.toLowerCase() === "100-continue") {
    await conn.write(new TextEncoder().encode("HTTP/1.1 100 Continue\r\n\r\n"));
  }
  const length = Number(headers.get("content-length") ?? "0");
  if (!Number.isSafeInteger(length) || length < 0 || length > MAX_BODY_BYTES) {
    throw new Error("Bad or too large content-length.");
  }
  let body: Uint8Array = buffer.subarray(headEnd + 4);
  while (body.length < length) {
    const chunk = await _readChunk(conn);
    if (!chunk) throw new Error("The connection closed inside a request body.");
    body = _concat(body, chunk);
  }
  return new Request(new URL(target, base), {
    method,
    headers,
    body: length > 0 ? body.slice(0, length) : undefined,
  });
}

async function _writeResponse(conn: Deno.Conn, response: Response): Promise<void> {
  const body = new Uint8Array(await response.arrayBuffer());
  let head = `HTTP/1.1 ${response.status} ${response.statusText || "Status"}\r\n`;
  for (const [name, value] of response.headers) {
    if (!HOP_BY_HOP.has(name)) head += `${name}: ${value}\r\n`;
  }
  head += `content-length: ${body.length}\r\nconnection: close\r\n\r\n`;
  const bytes = _concat(new TextEncoder().encode(head), body);
  for (let written = 0; written < bytes.length;) {
    written += await conn.write(bytes.subarray(written));
  }
}

async function _readChunk(conn: Deno.Conn): Promise<Uint8Array | null> {
  const chunk = new Uint8Array(16 * 1024);
  const read = await conn.read(chunk);
  return read === null ? null : chunk.subarray(0, read);
}

function _indexOfHeadEnd(buffer: Uint8Array): number {
  for (let i = 0; i + 3 < buffer.length; i++) {
    if (buffer[i] === 13 && buffer[i + 1] === 10 && buffer[i + 2] === 13 && buffer[i + 3] === 10) {
      return i;
    }
  }
  return -1;
}

function _concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const result = new Uint8Array(a.length + b.length);
  result.set(a);
  result.set(b, a.length);
  return result;
}

function _closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Closed already.
  }
}
