/**
 * CPU time of the bench's own process (the load generator and the functions, which share it),
 * of its child processes (the LiveKit double, send-notification with its SendGrid double) and
 * of the Postgres server's processes, read from Linux's `/proc`, so that a scenario's cost per
 * request can be set beside the baseline's. Elsewhere, or when `/proc` cannot be read, samples
 * are undefined and the figures are left out.
 */

/** Cumulative CPU seconds at one instant. */
export interface CpuSample {
  /** This process (all its threads). */
  self: number;
  /** Every process named `postgres`, with the children it has reaped (ended backends). */
  postgres: number;
  /** The processes this one started (not Postgres's). */
  children: number;
}

/** Clock ticks per second of `/proc/<pid>/stat` (USER_HZ): 100 on Linux's usual builds. */
const TICKS_PER_SECOND = 100;

/** utime + stime (+ cutime + cstime with `children`) of a `/proc/<pid>/stat` line, in ticks. */
export function ticksOf(stat: string, children = false): number {
  // The command name (field 2) is in parentheses and may hold spaces: count after it.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state), so field N is fields[N - 3].
  const own = Number(fields[11]) + Number(fields[12]);
  return children ? own + Number(fields[13]) + Number(fields[14]) : own;
}

/** The parent's pid of a `/proc/<pid>/stat` line. */
export function parentOf(stat: string): number {
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
}

/** The CPU used so far, or undefined where `/proc` is not there to read. */
export async function sampleCpu(): Promise<CpuSample | undefined> {
  try {
    const self = ticksOf(await Deno.readTextFile("/proc/self/stat"));
    let postgres = 0;
    let children = 0;
    for await (const entry of Deno.readDir("/proc")) {
      if (!/^\d+$/.test(entry.name)) continue;
      try {
        const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`);
        if (stat.includes("(postgres)")) postgres += ticksOf(stat, true);
        else if (parentOf(stat) === Deno.pid) children += ticksOf(stat);
      } catch {
        // The process ended while we looked.
      }
    }
    return {
      self: self / TICKS_PER_SECOND,
      postgres: postgres / TICKS_PER_SECOND,
      children: children / TICKS_PER_SECOND,
    };
  } catch {
    return undefined;
  }
}

/** Milliseconds of CPU per request between two samples, each side rounded to 0.01 ms. */
export function cpuPerRequest(
  from: CpuSample | undefined,
  to: CpuSample | undefined,
  requests: number,
): { functionsMs: number; postgresMs: number; childrenMs: number } | undefined {
  if (!from || !to || requests === 0) return undefined;
  const per = (seconds: number) => Math.round((seconds * 1000 / requests) * 100) / 100;
  return {
    functionsMs: per(to.self - from.self),
    postgresMs: per(to.postgres - from.postgres),
    childrenMs: per(to.children - from.children),
  };
}
