/**
 * Bench scenarios of the session functions. Each request is by its own streamer where the
 * contract allows one session per streamer, and users rotate where rate limits apply (60
 * tokens a minute per user), so what is measured is the operation, not a 409 or a 429.
 */
import type { BenchContext, BenchScenario } from "./bench_scenarios.ts";
import { mintTokens, rotate } from "./bench_support.ts";

/** Users created per pool, enough for a 5 s run; their tokens are minted before measuring. */
const POOL = 6_000;

async function createUsers(context: BenchContext, tag: string): Promise<string[]> {
  const rows = await context.sql<{ id: string }[]>`
    insert into auth.users (id, email, email_confirmed_at)
    select gen_random_uuid(), ${tag} || '-' || n || '@bench.example.test', now()
      from generate_series(1, ${POOL}) as n
    returning id`;
  return rows.map((row) => row.id);
}

/** Live sessions, one per user of `users`; returns the session ids in the same order. */
async function createLiveSessions(context: BenchContext, users: string[]): Promise<string[]> {
  const rows = await context.sql<{ id: string; streamer_id: string }[]>`
    insert into stream_sessions (id, streamer_id, room_name, record, status, started_at)
    select id, streamer_id, 'session-' || id, false, 'live', now()
      from (select gen_random_uuid() as id, unnest(${users}::uuid[]) as streamer_id) as s
    returning id, streamer_id`;
  const byStreamer = new Map(rows.map((row) => [row.streamer_id, row.id]));
  return users.map((user) => byStreamer.get(user)!);
}

/** streams, livekit-token, end-session and start-session. */
export async function sessionScenarios(context: BenchContext): Promise<BenchScenario[]> {
  const viewers = (await createUsers(context, "live")).slice(0, 2_000);
  const liveSessions = await createLiveSessions(context, viewers);
  const enders = await createUsers(context, "ender");
  const endable = await createLiveSessions(context, enders);
  const starters = await createUsers(context, "starter");
  const tokenOf = await mintTokens(context.jwtSecret, [...viewers, ...enders, ...starters]);
  const url = (name: string) => `${context.url}/functions/v1/${name}`;
  const post = (name: string, user: string, body: unknown) =>
    new Request(url(name), {
      method: "POST",
      headers: {
        authorization: `Bearer ${tokenOf(user)}`,
        "content-type": "application/json",
      },
      body: JSON.stringify(body),
    });

  const nextViewer = rotate(viewers.map((user, i) => ({ user, session: liveSessions[i] })));
  const nextEnder = rotate(enders.map((user, i) => ({ user, session: endable[i] })));
  const nextStarter = rotate(starters);
  return [
    {
      name: "streams",
      request: () =>
        new Request(url("streams"), {
          headers: { authorization: `Bearer ${tokenOf(nextViewer().user)}` },
        }),
      expectStatus: [200],
    },
    {
      name: "livekit-token",
      request: () => {
        const { user, session } = nextViewer();
        return post("livekit-token", user, { sessionId: session });
      },
      expectStatus: [200],
    },
    {
      name: "end-session",
      request: () => {
        const { user, session } = nextEnder();
        return post("end-session", user, { sessionId: session });
      },
      expectStatus: [200],
    },
    {
      name: "start-session",
      request: () => post("start-session", nextStarter(), { title: "bench" }),
      expectStatus: [201],
    },
  ];
}
