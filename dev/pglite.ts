/**
 * The embedded database: PGlite (Postgres compiled to WebAssembly) served over the Postgres
 * wire protocol on 127.0.0.1, so postgres.js talks to it exactly as to a real server.
 *
 * PGlite is a single backend: the socket server accepts one client connection at a time
 * (clients must use `max: 1`), and every connection would share one session anyway.
 *
 * @module
 */

import { PGlite } from "@electric-sql/pglite";
import { pgtap } from "@electric-sql/pglite-pgtap";
import { PGLiteSocketServer } from "@electric-sql/pglite-socket";

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
  const db = await PGlite.create({
    dataDir: options.dataDir,
    loadDataDir: options.loadDataDir,
    extensions: options.pgtap ? { pgtap } : {},
  });
  const server = new PGLiteSocketServer({
    db,
    host: "127.0.0.1",
    port: options.port ?? 0,
    maxConnections: 1,
  });
  try {
    await server.start();
  } catch (error) {
    await db.close();
    throw new Error(
      `Cannot start the embedded database: listening on 127.0.0.1:${options.port ?? 0} failed`,
      { cause: error },
    );
  }
  // After start() the server reports the port it really bound (port 0 picks one).
  const port = Number(server.getServerConn().split(":").at(-1));
  let closing: Promise<void> | undefined;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    db,
    close() {
      closing ??= closeEmbedded(server, db);
      return closing;
    },
  };
}

async function closeEmbedded(server: PGLiteSocketServer, db: PGlite): Promise<void> {
  await server.stop();
  // stop() drops a connected client without waiting for the rollback of its open
  // transaction; that rollback is already queued on PGlite's query lock, which close()
  // takes too, so it runs first.
  await db.close();
}
