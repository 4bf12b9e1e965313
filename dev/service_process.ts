/**
 * A long-running service binary (livekit-server, egress, redis-server) started by the local
 * stack: its output goes to a log file, it is ready when a probe succeeds, and it stops with
 * SIGTERM (then SIGKILL). See {@linkcode startServiceProcess}.
 */

/** Options of {@linkcode startServiceProcess}. */
export interface ServiceProcessOptions {
  /** What people call it in messages, such as "livekit-server". */
  name: string;
  command: string;
  args: string[];
  /** Added to this process's environment. */
  env?: Record<string, string>;
  /** File that receives its standard output and error. */
  logFile: string;
  /** Resolves true once the service is ready; called until then. */
  ready: () => Promise<boolean>;
  /** @default {30000} */
  readyTimeoutMs?: number;
}

/** A running service. */
export interface ServiceProcess {
  name: string;
  pid: number;
  logFile: string;
  /** Settles when the process ends. */
  exited: Promise<Deno.CommandStatus>;
  /** SIGTERM, then SIGKILL after 10 s. Idempotent. */
  stop(): Promise<void>;
}

const STOP_TIMEOUT_MS = 10_000;

/** Starts the service and waits until `ready` says so; throws with the log's tail if it exits. */
export async function startServiceProcess(options: ServiceProcessOptions): Promise<ServiceProcess> {
  const log = await Deno.open(options.logFile, { create: true, write: true, truncate: true });
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(options.command, {
      args: options.args,
      env: options.env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    log.close();
    throw new Error(`Cannot start ${options.name}: ${messageOf(error)}`);
  }
  const writer = log.writable.getWriter();
  const copying = Promise.all([copy(child.stdout, writer), copy(child.stderr, writer)])
    .finally(() => writer.close().catch(() => {}));
  const exited = child.status.then(async (status) => {
    await copying.catch(() => {});
    return status;
  });
  let stopping: Promise<void> | undefined;
  const service: ServiceProcess = {
    name: options.name,
    pid: child.pid,
    logFile: options.logFile,
    exited,
    stop: () =>
      stopping ??= (async () => {
        try {
          child.kill("SIGTERM");
        } catch {
          return; // already gone
        }
        const timer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch { /* exited meanwhile */ }
        }, STOP_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
      })(),
  };

  const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
  let ended: Deno.CommandStatus | undefined;
  exited.then((status) => ended = status);
  while (true) {
    if (ended) {
      throw new Error(
        `Cannot start ${options.name}: it exited with code ${ended.code}; its log ends with:\n${await tail(
          options.logFile,
        )}`,
      );
    }
    if (await options.ready().catch(() => false)) return service;
    if (Date.now() > deadline) {
      await service.stop();
      throw new Error(
        `Cannot start ${options.name}: not ready within ${
          (options.readyTimeoutMs ?? 30_000) / 1000
        } s; its log ends with:\n${await tail(options.logFile)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
export async function listening(port: number): Promise<boolean> {
  try {
    const connection = await Deno.connect({ hostname: "127.0.0.1", port });
    connection.close();
    return true;
  } catch {
    return false;
  }
}

/** A loopback TCP port that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** The last lines of a log file, for error messages. */
export async function tail(path: string, lines = 20): Promise<string> {
  try {
    return (await Deno.readTextFile(path)).trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

async function copy(stream: ReadableStream<Uint8Array>, writer: WritableStreamDefaultWriter) {
  for await (const chunk of stream) await writer.write(chunk);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
