/**
 * A private `redis-server` on loopback for LiveKit and its egress service (they talk through
 * it): no persistence, a free port. See {@linkcode startRedis}.
 */
import { join } from "node:path";
import {
  freePort,
  listening,
  type ServiceProcess,
  startServiceProcess,
} from "./service_process.ts";

/** A running Redis. */
export interface Redis {
  /** `127.0.0.1:PORT`. */
  address: string;
  process: ServiceProcess;
  stop(): Promise<void>;
}

/** Starts redis-server (`binary`) with its log in `workDir`. */
export async function startRedis(binary: string, workDir: string): Promise<Redis> {
  await Deno.mkdir(workDir, { recursive: true });
  const port = freePort();
  const process = await startServiceProcess({
    name: "redis-server",
    command: binary,
    args: [
      "--bind",
      "127.0.0.1",
      "--port",
      String(port),
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      workDir,
    ],
    logFile: join(workDir, "redis.log"),
    ready: () => listening(port),
  });
  return { address: `127.0.0.1:${port}`, process, stop: process.stop };
}
