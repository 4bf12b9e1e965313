/**
 * A fresh, migrated database per caller: a new database on the server in
 * `TEST_DATABASE_URL` when it is set (CI: real PostgreSQL), otherwise an in-memory PGlite.
 *
 * @module
 */

import postgres from "postgres";
import { prepareDatabase } from "../../dev/database.ts";
import { startEmbeddedPostgres } from "../../dev/pglite.ts";

/** Options for {@linkcode freshDatabase}. */
export interface FreshDatabaseOptions {
  /**
   * Load `supabase/seed.sql` (see `dev/seed_ids.ts`).
   * @default {true}
   */
  seed?: boolean;
}

/** A database of one's own, closed with {@linkcode FreshDatabase.close}. */
export interface FreshDatabase {
  /** Connection URL of the fresh database. */
  url: string;
  /** Real PostgreSQL (`TEST_DATABASE_URL`) or the embedded PGlite. */
  kind: "postgres" | "pglite";
  /**
   * A client of it, connected as a superuser. On PGlite it has one connection, released
   * 50 ms after it goes idle so that another client (a server under test) can take its turn:
   * PGlite serves one connection at a time, and the others wait.
   */
  sql: postgres.Sql;
  /** Ends the client and drops the database (or stops PGlite). Idempotent. */
  close(): Promise<void>;
}

const QUIET = { onnotice: () => {} } as const;

/**
 * How long the PGlite client keeps its idle connection: another client (a server under test)
 * waits at most this long for its turn.
 */
const PGLITE_IDLE_SECONDS = 0.05;

/**
 * Creates and prepares (baseline, migrations and, by default, seed) a database no one else
 * uses.
 *
 * @example
 * ```ts
 * const db = await freshDatabase();
 * try {
 *   const rows = await db.sql`select count(*)::int as n from public.guardians`;
 * } finally {
 *   await db.close();
 * }
 * ```
 */
export async function freshDatabase(options: FreshDatabaseOptions = {}): Promise<FreshDatabase> {
  const seed = options.seed ?? true;
  const adminUrl = Deno.env.get("TEST_DATABASE_URL");
  return adminUrl ? await freshPostgres(adminUrl, seed) : await freshPglite(seed);
}

async function freshPostgres(adminUrl: string, seed: boolean): Promise<FreshDatabase> {
  const name = `test_${crypto.randomUUID().replaceAll("-", "")}`;
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  await withAdmin(adminUrl, (admin) => createDatabase(admin, name));
  const sql = postgres(url.href, QUIET);
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (async () => {
      try {
        await sql.end();
      } finally {
        await withAdmin(adminUrl, (admin) =>
          admin.unsafe(`drop database if exists ${name} with (force)`));
      }
    })();
  try {
    await prepareDatabase(sql, { seed });
  } catch (error) {
    await close();
    throw error;
  }
  return { url: url.href, kind: "postgres", sql, close };
}

/** Creates `name`, retrying while template1 is busy (another run is creating a database too). */
async function createDatabase(admin: postgres.Sql, name: string): Promise<void> {
  for (let attempt = 1;; attempt++) {
    try {
      await admin.unsafe(`create database ${name}`);
      return;
    } catch (error) {
      const busy = (error as { code?: string }).code === "55006";
      if (!busy || attempt >= 20) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
    }
  }
}

async function withAdmin(adminUrl: string, use: (admin: postgres.Sql) => Promise<unknown>) {
  const admin = postgres(adminUrl, { ...QUIET, max: 1 });
  try {
    await use(admin);
  } finally {
    await admin.end();
  }
}

/**
 * PGlite takes seconds to initialise a cluster but well under one to load a dump of one, so
 * the migrated (unseeded) cluster is built once per process and every fresh database starts
 * from a copy of it.
 */
let template: Promise<Blob> | undefined;

async function freshPglite(seed: boolean): Promise<FreshDatabase> {
  template ??= buildPgliteTemplate();
  let loadDataDir: Blob;
  try {
    loadDataDir = await template;
  } catch (error) {
    template = undefined;
    throw error;
  }
  const embedded = await startEmbeddedPostgres({ pgtap: true, loadDataDir });
  const sql = postgres(embedded.url, { ...QUIET, max: 1, idle_timeout: PGLITE_IDLE_SECONDS });
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (async () => {
      try {
        await sql.end();
      } finally {
        await embedded.close();
      }
    })();
  try {
    // Baseline and migrations are already there (a no-op check); this loads the seed.
    await prepareDatabase(sql, { seed });
  } catch (error) {
    await close();
    throw error;
  }
  return { url: embedded.url, kind: "pglite", sql, close };
}

async function buildPgliteTemplate(): Promise<Blob> {
  const embedded = await startEmbeddedPostgres({ pgtap: true });
  try {
    const sql = postgres(embedded.url, { ...QUIET, max: 1 });
    try {
      await prepareDatabase(sql, { seed: false });
    } finally {
      await sql.end();
    }
    return await embedded.db.dumpDataDir("none");
  } finally {
    await embedded.close();
  }
}
