/**
 * What the bench runs beside itself as processes of their own (the LiveKit double, a second
 * functions server): services that run on other machines or in other isolates in production,
 * so their work should not be measured on the functions' JavaScript thread. The child prints
 * one JSON line when it is ready and stops when its standard input closes.
 */

/** A child process that reported `T` when it was ready. */
export interface ReportingChild<T> {
  report: T;
  close(): Promise<void>;
}

/**
 * Runs `deno run` with `args` (permissions, then the file) and `env` added to this process's
 * environment, and waits for its first line of standard output, parsed as JSON; whatever it
 * prints later is read and dropped.
 */
export async function startReportingChild<T>(
  what: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<ReportingChild<T>> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...args],
    env,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const stdin = child.stdin.getWriter();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) {
      await stdin.close().catch(() => {});
      throw new Error(`${what} exited before it was ready (${(await child.status).code})`);
    }
    text += value;
  }
  // Later lines (a server's request logs) are drained so that the child never blocks on them.
  const drained = (async () => {
    while (!(await reader.read()).done);
  })().catch(() => {});
  return {
    report: JSON.parse(text.slice(0, text.indexOf("\n"))) as T,
    async close() {
      await stdin.close().catch(() => {});
      await child.status;
      await drained;
    },
  };
}

/** In the child: prints the report, then waits until the parent closes standard input. */
export async function reportAndWait(report: unknown): Promise<void> {
  console.log(JSON.stringify(report));
  for await (const _ of Deno.stdin.readable) { /* until the parent closes it */ }
}
