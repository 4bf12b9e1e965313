/**
 * The migration runner (dev/database.ts) on both backends: it applies the baseline and every
 * migration to an empty database, records them as the Supabase CLI does, does nothing the
 * second time, and its baseline leaves an existing Supabase-like auth schema alone.
 */
import assert from "node:assert/strict";
import postgres from "postgres";
import { prepareDatabase, readMigrations } from "../../dev/database.ts";
import { startEmbeddedPostgres } from "../../dev/pglite.ts";
import * as seed from "../../dev/seed_ids.ts";
import { splitSqlStatements } from "../../dev/sql_statements.ts";
import { freshDatabase } from "../support/database.ts";

const TEST_DATABASE_URL = Deno.env.get("TEST_DATABASE_URL");
const BASELINE_FILE = new URL("../../dev/supabase_baseline.sql", import.meta.url);
const QUIET = { onnotice: () => {} } as const;

interface EmptyDatabase {
  url: string;
  sql: postgres.Sql;
  close(): Promise<void>;
}

/** An empty PGlite: no baseline, no migrations. */
async function emptyPglite(): Promise<EmptyDatabase> {
  const embedded = await startEmbeddedPostgres();
  const sql = postgres(embedded.url, { ...QUIET, max: 1 });
  return {
    url: embedded.url,
    sql,
    close: async () => {
      await sql.end();
      await embedded.close();
    },
  };
}

/** An empty database on the TEST_DATABASE_URL server (roles may exist: they are cluster wide). */
async function emptyPostgres(adminUrl: string): Promise<EmptyDatabase> {
  const name = `test_${crypto.randomUUID().replaceAll("-", "")}`;
  const admin = postgres(adminUrl, { ...QUIET, max: 1 });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const sql = postgres(url.href, QUIET);
  return {
    url: url.href,
    sql,
    close: async () => {
      await sql.end();
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

/** Applies everything to an empty database, checks the history, and runs again. */
async function assertMigratesFromEmpty(database: EmptyDatabase): Promise<void> {
  const migrations = await readMigrations();
  assert.ok(migrations.length > 0, "supabase/migrations holds migrations");
  const lines: string[] = [];
  const first = await prepareDatabase(database.sql, { log: (line) => lines.push(line) });
  assert.deepEqual(first.applied, migrations.map((migration) => migration.file));
  assert.ok(lines.includes(`applied migration ${migrations[0].file}`), lines.join("\n"));

  const history = await database.sql<{ version: string; name: string; statements: string[] }[]>`
    select version, name, statements
    from supabase_migrations.schema_migrations
    order by version
  `;
  assert.deepEqual(
    history.map((row) => ({ ...row })),
    migrations.map(({ version, name, statements }) => ({ version, name, statements })),
  );

  const second = await prepareDatabase(database.sql);
  assert.deepEqual(second.applied, []);

  const guardians = await database.sql<{ id: string; status: string; user_id: string | null }[]>`
    select id, status, user_id from public.guardians order by id
  `;
  assert.deepEqual(guardians.map((row) => ({ ...row })), [
    { id: seed.GUARDIAN_A_ROW, status: "active", user_id: seed.GUARDIAN_USER },
    { id: seed.REVOKED_ROW, status: "revoked", user_id: seed.REVOKED_USER },
    { id: seed.PENDING_ROW, status: "pending", user_id: null },
  ]);
}

Deno.test("prepareDatabase migrates an empty PGlite, then finds nothing to do", async () => {
  const database = await emptyPglite();
  try {
    await assertMigratesFromEmpty(database);
  } finally {
    await database.close();
  }
});

Deno.test({
  name: "prepareDatabase migrates an empty PostgreSQL database, then finds nothing to do",
  ignore: TEST_DATABASE_URL === undefined,
  async fn() {
    const database = await emptyPostgres(TEST_DATABASE_URL!);
    try {
      await assertMigratesFromEmpty(database);
    } finally {
      await database.close();
    }
  },
});

Deno.test({
  name: "prepareDatabase run by two clients at once applies each migration once",
  ignore: TEST_DATABASE_URL === undefined,
  async fn() {
    const database = await emptyPostgres(TEST_DATABASE_URL!);
    const other = postgres(database.url, QUIET);
    try {
      const results = await Promise.all([
        prepareDatabase(database.sql, { seed: false }),
        prepareDatabase(other, { seed: false }),
      ]);
      const migrations = await readMigrations();
      assert.deepEqual(
        results.flatMap((result) => result.applied).sort(),
        migrations.map((migration) => migration.file),
      );
    } finally {
      await other.end();
      await database.close();
    }
  },
});

Deno.test("a fresh database is migrated and seeded, and preparing it again is a no-op", async () => {
  const database = await freshDatabase();
  try {
    assert.equal(database.kind, TEST_DATABASE_URL ? "postgres" : "pglite");
    const counts = () =>
      database.sql<{ users: number; guardians: number; sessions: number; recordings: number }[]>`
        select
          (select count(*)::int from auth.users) as users,
          (select count(*)::int from public.guardians) as guardians,
          (select count(*)::int from public.stream_sessions) as sessions,
          (select count(*)::int from public.recordings) as recordings
      `.then((rows) => ({ ...rows[0] }));
    const before = await counts();
    assert.deepEqual(before, { users: 4, guardians: 3, sessions: 1, recordings: 1 });
    assert.deepEqual(await prepareDatabase(database.sql), { applied: [] });
    assert.deepEqual(await counts(), before);
  } finally {
    await database.close();
  }
});

Deno.test("the baseline runs again on a database that has it, changing nothing", async () => {
  const database = await freshDatabase({ seed: false });
  try {
    const baseline = await Deno.readTextFile(BASELINE_FILE);
    const snapshot = () =>
      database.sql<{ what: string }[]>`
        select format('role %s login=%s inherit=%s bypassrls=%s', rolname, rolcanlogin, rolinherit,
          rolbypassrls) as what
        from pg_catalog.pg_roles
        where rolname in ('anon', 'authenticated', 'service_role', 'authenticator')
        union all
        select format('function %s: %s', p.oid::regprocedure, md5(p.prosrc))
        from pg_catalog.pg_proc p
        where p.pronamespace = 'auth'::regnamespace
        union all
        select format('column %s %s', attname, format_type(atttypid, atttypmod))
        from pg_catalog.pg_attribute
        where attrelid = 'auth.users'::regclass and attnum > 0 and not attisdropped
        union all
        select format('acl %s %s', nspname, nspacl::text)
        from pg_catalog.pg_namespace
        where nspname in ('auth', 'extensions')
        order by 1
      `.then((rows) => rows.map((row) => row.what));
    const before = await snapshot();
    await database.sql.begin((tx) => tx.unsafe(baseline));
    await database.sql.begin((tx) => tx.unsafe(baseline));
    assert.deepEqual(await snapshot(), before);
    assert.ok(before.includes("role service_role login=f inherit=f bypassrls=t"));
    assert.ok(before.includes("role authenticator login=t inherit=f bypassrls=f"));
  } finally {
    await database.close();
  }
});

Deno.test("the baseline leaves an existing (Supabase) auth schema alone", async () => {
  const database = await emptyPglite();
  try {
    // A stand-in for what Supabase provides, deliberately different from the baseline's.
    await database.sql.unsafe(`
      create role anon nologin noinherit;
      create schema auth;
      create table auth.users (id uuid primary key, email text, email_confirmed_at timestamptz);
      create function auth.uid() returns uuid language sql stable
        as $$ select '00000000-0000-4000-8000-000000000000'::uuid $$;
    `);
    const baseline = await Deno.readTextFile(BASELINE_FILE);
    await database.sql.begin((tx) => tx.unsafe(baseline));
    const [state] = await database.sql<{ columns: string[]; uid: string; login: boolean }[]>`
      select
        array(select attname::text from pg_catalog.pg_attribute
          where attrelid = 'auth.users'::regclass and attnum > 0 order by attnum) as columns,
        auth.uid()::text as uid,
        (select rolcanlogin from pg_catalog.pg_roles where rolname = 'authenticator') as login
    `;
    assert.deepEqual(state.columns, ["id", "email", "email_confirmed_at"]);
    assert.equal(state.uid, "00000000-0000-4000-8000-000000000000");
    assert.equal(state.login, true, "what was missing (authenticator) is still created");
  } finally {
    await database.close();
  }
});

Deno.test("splitSqlStatements splits where the Supabase CLI does", () => {
  const script = [
    "-- leading comment",
    "create table a (x text default ';');",
    "",
    "create function f() returns text language sql as $body$ select 'a;b' $body$;",
    "/* block; /* nested; */ still */ select 1;",
    'select "odd;name" from t;',
    "select E'it\\'s;' as s;",
    "create policy p on a using (x in (select ';'));",
    "select $$;$$ ;;",
    "-- trailing comment",
  ].join("\n");
  assert.deepEqual(splitSqlStatements(script), [
    "-- leading comment\ncreate table a (x text default ';')",
    "create function f() returns text language sql as $body$ select 'a;b' $body$",
    "/* block; /* nested; */ still */ select 1",
    'select "odd;name" from t',
    "select E'it\\'s;' as s",
    "create policy p on a using (x in (select ';'))",
    "select $$;$$",
    "-- trailing comment",
  ]);
});
