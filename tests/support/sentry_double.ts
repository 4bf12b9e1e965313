/**
 * A loopback double of Sentry's ingestion: `POST /api/{project}/envelope/` with the DSN's public
 * key (as `sentry_key` in the query or in `X-Sentry-Auth`), an envelope of newline-separated
 * JSON: its header, then item headers and payloads. Events are kept for assertions.
 */

/** An event the double accepted. */
export interface SentryEvent {
  // deno-lint-ignore no-explicit-any
  [field: string]: any;
}

/** A running double. */
export interface SentryDouble {
  /** The DSN to configure, `http://{key}@127.0.0.1:{port}/{project}`. */
  dsn: string;
  events: SentryEvent[];
  /** Envelopes refused (wrong key or path, bad envelope). */
  refused: number;
  /** Resolves when `count` events arrived, or rejects after `timeoutMs`. */
  waitFor(count: number, timeoutMs?: number): Promise<SentryEvent[]>;
  close(): Promise<void>;
}

/** Starts the double for one project and key. */
export function startSentryDouble(): SentryDouble {
  const key = crypto.randomUUID().replaceAll("-", "");
  const project = "4242";
  const double: SentryDouble = {
    dsn: "",
    events: [],
    refused: 0,
    async waitFor(count, timeoutMs = 5000) {
      const until = Date.now() + timeoutMs;
      while (double.events.length < count) {
        if (Date.now() > until) {
          throw new Error(`The Sentry double got ${double.events.length} of ${count} events`);
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return double.events.slice(0, count);
    },
    async close() {
      await server.shutdown();
    },
  };

  async function handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const auth = request.headers.get("x-sentry-auth") ?? "";
    const given = url.searchParams.get("sentry_key") ?? /sentry_key=([^,\s]+)/.exec(auth)?.[1];
    const text = await request.text();
    if (request.method !== "POST" || url.pathname !== `/api/${project}/envelope/`) {
      double.refused++;
      return new Response("not found", { status: 404 });
    }
    if (given !== key) {
      double.refused++;
      return Response.json({ detail: "invalid api key" }, { status: 401 });
    }
    try {
      const [header, ...lines] = text.split("\n").filter(Boolean);
      JSON.parse(header);
      for (let i = 0; i + 1 < lines.length; i += 2) {
        const item = JSON.parse(lines[i]);
        if (item.type === "event") double.events.push(JSON.parse(lines[i + 1]));
      }
    } catch {
      double.refused++;
      return Response.json({ detail: "invalid envelope" }, { status: 400 });
    }
    return Response.json({}, { headers: { connection: "close" } });
  }

  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handle);
  double.dsn = `http://${key}@127.0.0.1:${server.addr.port}/${project}`;
  return double;
}
