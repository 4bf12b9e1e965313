/**
 * The real LiveKit egress service on loopback (Go + GStreamer), for `deno task dev` and the
 * end-to-end tier. It takes requests from livekit-server through Redis, records with
 * GStreamer, and uploads to the bucket it is configured with (the functions' requests carry no
 * credentials). Locally the bucket is the local one (`dev/local_bucket.ts`), reached through
 * `STORAGE_EMULATOR_HOST`. See {@linkcode startEgress}.
 *
 * What this machine imposes: the service starts each recording as `egress run-handler`, found
 * on `PATH`; it stages uploads in the hard-coded `/home/egress/tmp`; and its CPU admission
 * (a participant egress "costs" 2 cores by default) would refuse every request on two cores.
 */
import { dirname, join } from "node:path";
import {
  freePort,
  listening,
  type ServiceProcess,
  startServiceProcess,
} from "./service_process.ts";

/** Egress's hard-coded staging folder. */
export const EGRESS_TMP_DIR = "/home/egress/tmp";

/** Options of {@linkcode startEgress}. */
export interface EgressOptions {
  /** The `egress` binary; its folder goes first on the service's `PATH`. */
  binary: string;
  apiKey: string;
  apiSecret: string;
  /** `ws://…` of livekit-server. */
  livekitUrl: string;
  /** `host:port` of the Redis livekit-server uses. */
  redisAddress: string;
  /** The bucket and the credentials egress uploads with. */
  bucket: string;
  credentialsJson: string;
  /** `host:port` that egress's GCS client is sent to instead of Google. */
  storageEmulatorHost: string;
  workDir: string;
}

/** A running egress service. */
export interface Egress {
  process: ServiceProcess;
  stop(): Promise<void>;
}

/** Egress's configuration (it holds the API secret and the bucket's credentials: mode 0600). */
export function egressConfig(
  options: EgressOptions & { healthPort: number; templatePort: number },
): string {
  return [
    `api_key: ${JSON.stringify(options.apiKey)}`,
    `api_secret: ${JSON.stringify(options.apiSecret)}`,
    `ws_url: ${JSON.stringify(options.livekitUrl)}`,
    "redis:",
    `  address: ${options.redisAddress}`,
    `health_port: ${options.healthPort}`,
    `template_port: ${options.templatePort}`,
    "logging: { level: info }",
    "gcp:",
    `  bucket: ${JSON.stringify(options.bucket)}`,
    `  credentials_json: ${JSON.stringify(options.credentialsJson)}`,
    // One 720p participant transcode takes about one core here; admit one at a time.
    "cpu_cost:",
    "  max_cpu_utilization: 0.95",
    "  participant_cpu_cost: 0.5",
    "  track_cpu_cost: 0.25",
  ].join("\n") + "\n";
}

/** Starts the egress service and waits until its health port answers. */
export async function startEgress(options: EgressOptions): Promise<Egress> {
  try {
    await Deno.mkdir(EGRESS_TMP_DIR, { recursive: true });
  } catch (error) {
    throw new Error(
      `Cannot start egress: it stages uploads in ${EGRESS_TMP_DIR}, which cannot be created (${
        error instanceof Error ? error.message : error
      })`,
    );
  }
  await Deno.mkdir(options.workDir, { recursive: true });
  const healthPort = freePort();
  const templatePort = freePort();
  const configFile = join(options.workDir, "egress.yaml");
  await Deno.writeTextFile(
    configFile,
    egressConfig({ ...options, healthPort, templatePort }),
    { mode: 0o600 },
  );
  const process = await startServiceProcess({
    name: "egress",
    command: options.binary,
    args: ["--config", configFile],
    env: {
      PATH: `${dirname(options.binary)}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`,
      STORAGE_EMULATOR_HOST: options.storageEmulatorHost,
    },
    logFile: join(options.workDir, "egress.log"),
    ready: () => listening(healthPort),
  });
  return { process, stop: process.stop };
}
