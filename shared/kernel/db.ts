/**
 * Database access with postgres.js on the transaction pooler (`prepare: false`).
 *
 * Work for a user runs in a transaction that first sets the role `authenticated` and the
 * request's JWT claims with bound parameters, so RLS decides exactly as through PostgREST.
 * That first statement is sent immediately and the operation's statements are queued
 * behind it; every one of them binds a parameter and a statement timeout is set, because
 * Supavisor's transaction mode mishandles other pipelined statements.
 *
 * Round trips: with `prepare: false`, postgres.js sends every statement that binds a
 * parameter in two flights (Parse and Describe, to learn the parameter types, then Bind and
 * Execute), and a statement waiting for its description holds back the ones queued behind
 * it. So a statement with parameters costs two round trips and one without costs one; a
 * transaction adds `begin` and `commit`. Fewer statements (a plpgsql function doing the
 * work) is what saves round trips here, not sending statements together.
 *
 * So the hot one-step operations are one statement each, outside `asUser`: a `private`
 * function that takes {@linkcode claimsParameter} and first calls `private.act_as_user` with
 * it (in `20261201000000_one_statement_operations.sql`), which sets the same role and claims
 * for the rest of the statement's own transaction. Those functions are granted to no one but
 * their owner.
 */
import postgres from "postgres";

/** The verified JWT claims of a user, as RLS policies read them. */
export interface JwtClaims {
  sub: string;
  role: string;
  [claim: string]: unknown;
}

/** A transaction's SQL client. */
export type Tx = postgres.TransactionSql;

/** Options of {@linkcode getDatabase}. */
export interface DatabaseOptions {
  /** Pool size. One connection for PGlite. @default {5} */
  max?: number;
  /** Per-statement timeout inside transactions, in milliseconds. @default {8000} */
  statementTimeoutMs?: number;
}

/** The database of one function isolate. */
export interface Database {
  /** The raw client, for single statements outside a transaction. */
  sql: postgres.Sql;
  /** Runs `work` as `service_role` (LiveKit, the outbox, maintenance). */
  asService<T>(work: (tx: Tx) => Promise<T>): Promise<T>;
  /** Runs `work` as the user, under RLS. */
  asUser<T>(claims: JwtClaims, work: (tx: Tx) => Promise<T>): Promise<T>;
  /** Round-trips `select 1`; throws when the database cannot be reached. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The claims as the one-statement operations take them (`private.act_as_user`): bound as a
 * parameter, like asUser's, never spliced into SQL.
 */
export function claimsParameter(claims: JwtClaims): string {
  return JSON.stringify(claims);
}

const databases = new Map<string, Database>();

/**
 * The database for `url`, created on first use and shared by every caller in the process
 * (so all functions of the local server share one pool, which PGlite's single connection
 * requires).
 */
export function getDatabase(url: string, options: DatabaseOptions = {}): Database {
  let database = databases.get(url);
  if (!database) {
    database = createDatabase(url, options);
    databases.set(url, database);
  }
  return database;
}

/** The database of a parsed `databaseEnv`, as every function's entry builds it. */
export function databaseOf(config: { url: string; poolSize: number }): Database {
  return getDatabase(config.url, { max: config.poolSize });
}

/** Closes every database opened by {@linkcode getDatabase}. */
export async function closeAllDatabases(): Promise<void> {
  const open = [...databases.values()];
  databases.clear();
  await Promise.all(open.map((database) => database.close()));
}

function createDatabase(url: string, options: DatabaseOptions): Database {
  const timeout = String(options.statementTimeoutMs ?? 8000);
  const sql = postgres(url, {
    prepare: false,
    max: options.max ?? 5,
    idle_timeout: 20,
    connect_timeout: 5,
    onnotice: () => {},
    connection: { application_name: "edge-functions" },
  });

  function run<T>(
    role: "authenticated" | "service_role",
    claims: Record<string, unknown>,
    work: (tx: Tx) => Promise<T>,
  ): Promise<T> {
    return sql.begin(async (tx) => {
      // A user must exist (private.require_user, a 401 otherwise); the subquery runs first,
      // while the connection is still the owner's, then the role and claims are set.
      const caller = role === "authenticated"
        ? tx`(select private.require_user(${String(claims.sub)}::uuid))`
        : tx`(select null)`;
      const setup = tx`
        select set_config('role', ${role}, true),
               set_config('request.jwt.claims', ${JSON.stringify(claims)}, true),
               set_config('request.jwt.claim.sub', ${String(claims.sub ?? "")}, true),
               set_config('statement_timeout', ${timeout}, true)
          from ${caller} as caller`.execute();
      setup.catch(() => {}); // awaited below; this only keeps an early failure handled
      try {
        const result = await work(tx);
        await setup;
        return result;
      } catch (error) {
        // The setup's own failure explains the operation's failure better.
        await setup;
        throw error;
      }
    }) as Promise<T>;
  }

  return {
    sql,
    asService: (work) => run("service_role", { role: "service_role" }, work),
    asUser: (claims, work) => run("authenticated", claims, work),
    async ping() {
      await sql`select 1 as ok`;
    },
    async close() {
      await sql.end({ timeout: 5 });
    },
  };
}
