/**
 * What pgTAP cannot show from inside one transaction: the guardian limit, the one-active-
 * session rule and the rate limiter hold when transactions race. Needs a real server with
 * many connections (TEST_DATABASE_URL); PGlite runs one connection at a time.
 */
import assert from "node:assert/strict";
import type postgres from "postgres";
import { STREAMER_B } from "../../dev/seed_ids.ts";
import { freshDatabase } from "../support/database.ts";

const ignore = Deno.env.get("TEST_DATABASE_URL") === undefined;

/** Runs `count` copies of `work` in separate transactions, all open at once. */
async function race(
  sql: postgres.Sql,
  count: number,
  work: (tx: postgres.TransactionSql, index: number) => Promise<unknown>,
): Promise<PromiseSettledResult<unknown>[]> {
  let arrived = 0;
  let release!: () => void;
  const everyoneIn = new Promise<void>((resolve) => (release = resolve));
  return await Promise.allSettled(
    Array.from({ length: count }, (_, index) =>
      sql.begin(async (tx) => {
        await tx`select 1`;
        arrived += 1;
        if (arrived === count) release();
        await everyoneIn;
        return (await work(tx, index)) as unknown;
      })),
  );
}

Deno.test({
  name: "concurrent invitations never take a streamer past 10 pending or active guardians",
  ignore,
  async fn() {
    const database = await freshDatabase();
    try {
      await database.sql`
        insert into public.guardians (streamer_id, email)
        select ${STREAMER_B}::uuid, format('existing-%s@race.test', n) from generate_series(1, 7) n
      `;
      const results = await race(database.sql, 6, async (tx, index) => {
        await tx`
          insert into public.guardians (streamer_id, email)
          values (${STREAMER_B}, ${`racer-${index}@race.test`})
        `;
        // Stay open a moment: without the trigger's lock every racer would count 7 and pass.
        await tx`select pg_sleep(0.05)`;
      });
      const refused = results.filter((result) => result.status === "rejected");
      assert.equal(results.length - refused.length, 3, "three of six invitations fit");
      for (const result of refused) {
        const error = (result as PromiseRejectedResult).reason as postgres.PostgresError;
        assert.equal(error.code, "23514");
        assert.equal(error.constraint_name, "guardians_limit");
      }
      const [{ count }] = await database.sql<{ count: number }[]>`
        select count(*)::int as count from public.guardians
        where streamer_id = ${STREAMER_B} and status in ('pending', 'active')
      `;
      assert.equal(count, 10);
    } finally {
      await database.close();
    }
  },
});

Deno.test({
  name: "concurrent session starts leave one active session per streamer",
  ignore,
  async fn() {
    const database = await freshDatabase();
    try {
      const results = await race(database.sql, 5, (tx) =>
        tx`
          insert into public.stream_sessions (id, streamer_id, room_name, record)
          select s.id, ${STREAMER_B}, 'session-' || s.id, false
            from (select gen_random_uuid() as id) s
        `);
      const refused = results.filter((result) => result.status === "rejected");
      assert.equal(refused.length, 4);
      for (const result of refused) {
        const error = (result as PromiseRejectedResult).reason as postgres.PostgresError;
        assert.equal(error.constraint_name, "stream_sessions_one_active_per_streamer");
      }
    } finally {
      await database.close();
    }
  },
});

Deno.test({
  name: "concurrent hits on one rate-limit key are all counted",
  ignore,
  async fn() {
    const database = await freshDatabase({ seed: false });
    try {
      const now = new Date("2026-01-01T00:00:00Z");
      const results = await race(
        database.sql,
        8,
        (tx) =>
          tx<{ allowed: boolean; retry_after_seconds: number }[]>`
          select * from private.rate_limit_hit(p_key => 'race:key', p_limit => 5,
                                                p_window_seconds => 60, p_now => ${now})
        `,
      );
      const answers = results.map((result) => {
        assert.equal(result.status, "fulfilled");
        return (result as PromiseFulfilledResult<{ allowed: boolean }[]>).value[0].allowed;
      });
      assert.equal(answers.filter((allowed) => allowed).length, 5);
      const [{ hits }] = await database.sql<{ hits: number }[]>`
        select hits from public.rate_limit_buckets where key = 'race:key'
      `;
      assert.equal(hits, 8);
    } finally {
      await database.close();
    }
  },
});
