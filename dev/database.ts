/**
 * The migration runner used by the dev server, the tests and the bench: the Supabase
 * baseline (what a project provides: roles, auth schema), then every pending
 * `supabase/migrations/*.sql`, tracked as the Supabase CLI tracks them, then the seed.
 *
 * @module
 */

import type postgres from "postgres";
import { splitSqlStatements } from "./sql_statements.ts";

const BASELINE_FILE = new URL("./supabase_baseline.sql", import.meta.url);
const MIGRATIONS_DIR = new URL("../supabase/migrations/", import.meta.url);
const SEED_FILE = new URL("../supabase/seed.sql", import.meta.url);

/** The Supabase CLI's migration file name: `<version>_<name>.sql`. */
const MIGRATION_FILE_NAME = /^([0-9]+)_(.*)\.sql$/;

/** Serialises concurrent runners on one database (dev server and tests, say). */
const LOCK_KEY = "supabase_migrations.schema_migrations";

// The statements the Supabase CLI runs before reading or writing its history.
const HISTORY_TABLE_SQL = `
  create schema if not exists supabase_migrations;
  create table if not exists supabase_migrations.schema_migrations (version text not null primary key);
  alter table supabase_migrations.schema_migrations add column if not exists statements text[];
  alter table supabase_migrations.schema_migrations add column if not exists name text;
`;

/** Options for {@linkcode prepareDatabase}. */
export interface PrepareDatabaseOptions {
  /**
   * Run `supabase/seed.sql` afterwards (it is idempotent).
   * @default {true}
   */
  seed?: boolean;
  /**
   * Receives one line per step taken.
   * @default {() => {}}
   */
  log?: (line: string) => void;
}

/** What {@linkcode prepareDatabase} did. */
export interface PrepareDatabaseResult {
  /** File names of the migrations applied by this call, in order; empty when up to date. */
  applied: string[];
}

/** A migration file, parsed as the Supabase CLI parses it. */
export interface MigrationFile {
  /** `20261122000100_core_schema.sql` */
  file: string;
  /** `20261122000100` */
  version: string;
  /** `core_schema` */
  name: string;
  /** The file's text. */
  sql: string;
  /** Its statements, as stored in `schema_migrations.statements`. */
  statements: string[];
}

/**
 * Brings a database up to date: creates the missing parts of the Supabase baseline, applies
 * pending migrations in file name order (each in its own transaction, recorded in
 * `supabase_migrations.schema_migrations`), then runs the seed. Running it again does
 * nothing (`applied` is empty), also on a database the Supabase CLI migrated.
 *
 * @example
 * ```ts
 * const sql = postgres(url, { max: 1 });
 * const { applied } = await prepareDatabase(sql, { seed: false, log: console.log });
 * ```
 */
export async function prepareDatabase(
  sql: postgres.Sql,
  options: PrepareDatabaseOptions = {},
): Promise<PrepareDatabaseResult> {
  const { seed = true, log = () => {} } = options;
  const [baseline, migrations] = await Promise.all([
    Deno.readTextFile(BASELINE_FILE),
    readMigrations(),
  ]);

  await sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(hashtextextended(${LOCK_KEY}, 0))`;
    await tx.unsafe(baseline);
    await tx.unsafe(HISTORY_TABLE_SQL);
  });

  const recorded = new Set(
    (await sql<{ version: string }[]>`select version from supabase_migrations.schema_migrations`)
      .map((row) => row.version),
  );
  const applied: string[] = [];
  for (const migration of migrations) {
    if (recorded.has(migration.version)) continue;
    const ran = await sql.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(hashtextextended(${LOCK_KEY}, 0))`;
      // Another runner may have applied it while we waited for the lock.
      const [done] = await tx`
        select 1 from supabase_migrations.schema_migrations where version = ${migration.version}
      `;
      if (done) return false;
      try {
        await tx.unsafe(migration.sql);
      } catch (error) {
        throw new Error(
          `Cannot apply migration ${migration.file}: ${(error as Error).message}`,
          { cause: error },
        );
      }
      await tx`
        insert into supabase_migrations.schema_migrations (version, name, statements)
        values (${migration.version}, ${migration.name}, ${migration.statements}::text[])
      `;
      return true;
    });
    if (ran) {
      applied.push(migration.file);
      log(`applied migration ${migration.file}`);
    }
  }
  if (applied.length === 0) log("migrations up to date");

  if (seed) {
    const seedSql = await Deno.readTextFile(SEED_FILE);
    try {
      await sql.begin((tx) => tx.unsafe(seedSql));
    } catch (error) {
      throw new Error(`Cannot run supabase/seed.sql: ${(error as Error).message}`, {
        cause: error,
      });
    }
    log("seeded supabase/seed.sql");
  }
  return { applied };
}

/**
 * The migration files in `supabase/migrations`, in the order they apply. Files whose names
 * do not match `<version>_<name>.sql` are skipped, as the Supabase CLI skips them.
 */
export async function readMigrations(): Promise<MigrationFile[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(MIGRATIONS_DIR)) {
    if (entry.isFile && MIGRATION_FILE_NAME.test(entry.name)) files.push(entry.name);
  }
  files.sort();
  return await Promise.all(files.map(async (file) => {
    const [, version, name] = MIGRATION_FILE_NAME.exec(file)!;
    const sql = await Deno.readTextFile(new URL(file, MIGRATIONS_DIR));
    return { file, version, name, sql, statements: splitSqlStatements(sql) };
  }));
}
