/**
 * What autovacuum does for a production database, done by the bench itself: these machines'
 * PostgreSQL runs with autovacuum off, so without this the statistics of the bench database
 * would never follow its tables, and the plans Postgres keeps on each connection (plpgsql's)
 * would stay those of the tables' first state. The ledger, say, analyzed while empty, keeps a
 * sequential-scan plan for its primary-key lookup that costs more with every event recorded.
 */
import type postgres from "postgres";

/**
 * Between runs: reclaims dead rows, gathers statistics and writes a checkpoint, so that no run
 * pays for what the runs before it wrote (a checkpoint due in a later run's window would be
 * billed to that run).
 */
export async function settle(sql: postgres.Sql): Promise<void> {
  await sql`vacuum (analyze)`;
  await sql`checkpoint`;
}

/** A running stand-in for autovacuum's analyze. */
export interface AutoAnalyze {
  /** Stops it and waits for an analyze in progress. */
  stop(): Promise<void>;
}

/**
 * During a run: every `intervalMs`, analyzes each table changed by more than autovacuum's
 * default threshold since its last analyze (50 rows plus 10% of its rows), as autovacuum would
 * on a server where it runs. Its work is the database's, so it counts in the run's figures.
 */
export function startAutoAnalyze(sql: postgres.Sql, intervalMs = 1000): AutoAnalyze {
  let running: Promise<void> = Promise.resolve();
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    running = analyzeChanged(sql).catch((error) => {
      console.error(`Auto-analyze failed: ${error instanceof Error ? error.message : error}`);
    }).finally(() => busy = false);
  }, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

async function analyzeChanged(sql: postgres.Sql): Promise<void> {
  const tables = await sql<{ name: string }[]>`
    select format('%I.%I', s.schemaname, s.relname) as name
      from pg_stat_user_tables s
      join pg_class c on c.oid = s.relid
     where s.n_mod_since_analyze > 50 + 0.1 * greatest(c.reltuples, 0)`;
  for (const { name } of tables) await sql.unsafe(`analyze ${name}`);
}
