/**
 * The embedded database: PGlite (Postgres compiled to WebAssembly) served over the Postgres
 * wire protocol on 127.0.0.1, so postgres.js talks to it exactly as to a real server.
 *
 * PGlite is a single backend, and `PGLiteSocketServer` serves it to one connection at a
 * time: clients must use `max: 1`. It also turns away (with a line that is not the Postgres
 * protocol, so postgres.js waits forever) a connection made while another is open, or even
 * one made a moment after the previous closed, before the server noticed. So the port
 * clients see belongs to a small queue in front of it: each connection waits for its turn
 * instead, and the next one is let through only once the server has let go of the last.
 *
 * @module
 */

import { PGlite } from "@electric-sql/pglite";
import { pgtap } from "@electric-sql/pglite-pgtap";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";
import { createConnection, createServer, type Server, type Socket } from "node:net";

/** Options for {@linkcode startEmbeddedPostgres}. */
export interface EmbeddedPostgresOptions {
  /**
   * Directory holding the database files; the database persists there across runs.
   * @default {undefined} (in memory, gone on close)
   */
  dataDir?: string;
  /**
   * Port to listen on, on 127.0.0.1; 0 picks a free one.
   * @default {0}
   */
  port?: number;
  /**
   * Load the pgTAP extension's files, so that `create extension pgtap` works.
   * @default {false}
   */
  pgtap?: boolean;
  /**
   * A data directory dump (`PGlite#dumpDataDir`) to start from instead of an empty cluster;
   * much faster than initialising one. Only for in-memory databases.
   * @default {undefined}
   */
  loadDataDir?: Blob;
}

/** A running embedded database. */
export interface EmbeddedPostgres {
  /** Connection URL, `postgres://postgres@127.0.0.1:PORT/postgres`. */
  url: string;
  /** The port actually listened on. */
  port: number;
  /** The PGlite instance, for in-process access (dumps, direct queries). */
  db: PGlite;
  /** Stops accepting connections, drops the current one and closes the database. */
  close(): Promise<void>;
}

const HOST = "127.0.0.1";

/**
 * Starts PGlite and serves it on 127.0.0.1.
 *
 * @example
 * ```ts
 * const embedded = await startEmbeddedPostgres({ dataDir: ".data/pglite" });
 * const sql = postgres(embedded.url, { max: 1 });
 * ```
 */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions = {},
): Promise<EmbeddedPostgres> {
  if (options.dataDir !== undefined && options.loadDataDir !== undefined) {
    throw new Error("Cannot start the embedded database: give dataDir or loadDataDir, not both");
  }
  const requestedPort = options.port ?? 0;
  const db = await PGlite.create({
    dataDir: options.dataDir,
    loadDataDir: options.loadDataDir,
    extensions: options.pgtap ? { pgtap } : {},
  });
  const server = new PGLiteSocketServer({ db, host: HOST, port: 0, maxConnections: 1 });
  let queue: ConnectionQueue | undefined;
  try {
    await server.start();
    // After start() the server reports the port it really bound.
    const serverPort = Number(server.getServerConn().split(":").at(-1));
    queue = new ConnectionQueue(serverPort, () => server.getStats().activeConnections === 0);
    await queue.listen(requestedPort);
  } catch (error) {
    await queue?.close();
    await server.stop();
    await db.close();
    throw new Error(
      `Cannot start the embedded database: listening on ${HOST}:${requestedPort} failed`,
      { cause: error },
    );
  }
  const port = queue.port;
  const front = queue;
  let closing: Promise<void> | undefined;
  return {
    url: `postgres://postgres@${HOST}:${port}/postgres`,
    port,
    db,
    close() {
      closing ??= (async () => {
        await front.close();
        await server.stop();
        // stop() drops a connected client without waiting for the rollback of its open
        // transaction; that rollback is already queued on PGlite's query lock, which close()
        // takes too, so it runs first.
        await db.close();
      })();
      return closing;
    },
  };
}

/**
 * Accepts connections on the public port and forwards them, one at a time and in order, to
 * the socket server; a waiting connection simply sees a slow connect.
 */
class ConnectionQueue {
  #server: Server;
  #waiting: Socket[] = [];
  #open = new Set<Socket>();
  #pumping = false;
  #closed = false;
  port = 0;

  constructor(readonly upstreamPort: number, readonly upstreamIsFree: () => boolean) {
    this.#server = createServer((client) => {
      this.#open.add(client);
      client.on("close", () => this.#open.delete(client));
      client.on("error", () => client.destroy());
      this.#waiting.push(client);
      void this.#pump();
    });
  }

  listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(port, HOST, () => {
        const address = this.#server.address();
        this.port = typeof address === "object" && address !== null ? address.port : port;
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    const closed = new Promise<void>((resolve) => {
      if (!this.#server.listening) resolve();
      else this.#server.close(() => resolve());
    });
    for (const socket of this.#open) socket.destroy();
    await closed;
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (!this.#closed && this.#waiting.length > 0) {
        const client = this.#waiting.shift()!;
        if (client.destroyed) continue;
        while (!this.upstreamIsFree() && !this.#closed && !client.destroyed) await pause(1);
        if (this.#closed || client.destroyed) {
          client.destroy();
          continue;
        }
        await this.#forward(client);
      }
    } finally {
      this.#pumping = false;
    }
  }

  /** Pipes client and server together until either side closes. */
  #forward(client: Socket): Promise<void> {
    return new Promise((resolve) => {
      const upstream = createConnection({ host: HOST, port: this.upstreamPort });
      this.#open.add(upstream);
      let open = 2;
      const closed = () => {
        client.destroy();
        upstream.destroy();
        open -= 1;
        if (open === 0) resolve();
      };
      upstream.on("error", () => upstream.destroy());
      upstream.once("close", () => {
        this.#open.delete(upstream);
        closed();
      });
      if (client.destroyed) {
        // The client left while we connected: its close event has already fired.
        open -= 1;
        upstream.destroy();
        return;
      }
      client.once("close", closed);
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }
}

function pause(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}
