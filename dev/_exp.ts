import postgres from "postgres";
import { measure } from "./bench.ts";
const sql = postgres("postgres://postgres@127.0.0.1:5432/postgres", {
  prepare: false,
  max: 10,
  onnotice: () => {},
});
const variants: Record<string, () => Promise<unknown>> = {
  "select 1": () => sql`select 1`,
  "select $1": () => sql`select ${1}::int`,
  "one fn call (plpgsql w/ set_config)": () =>
    sql`select set_config('request.jwt.claims', ${'{"sub":"x"}'}, true), ${2}::int`,
  "begin/setup/q/commit": () =>
    sql.begin(async (tx) => {
      const s = tx`select set_config('role', ${"authenticated"}, true)`.execute();
      const r = await tx`select ${1}::int`;
      await s;
      return r;
    }),
};
for (const [name, work] of Object.entries(variants)) {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async () => {
    await work();
    return Response.json({ ok: true });
  });
  const url = `http://127.0.0.1:${server.addr.port}/`;
  const m = await measure({ name, request: () => new Request(url) }, {
    durationMs: 4000,
    warmupMs: 1000,
  });
  console.log(name.padEnd(40), m.p50Ms, m.p99Ms, m.requestsPerSecond);
  await server.shutdown();
}
await sql.end();
