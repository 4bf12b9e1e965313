/**
 * The real `livekit-server` on loopback, for `deno task dev`, the LiveKit contract suite and
 * the end-to-end tier: the API key pair the functions use, webhooks to `livekit-webhook`, and
 * (with egress) Redis, which is how the server reaches its egress service.
 * See {@linkcode startLiveKitServer}.
 */
import { join } from "node:path";
import {
  freePort,
  listening,
  type ServiceProcess,
  startServiceProcess,
} from "./service_process.ts";

/** Options of {@linkcode startLiveKitServer}. */
export interface LiveKitServerOptions {
  /** The binary (`findMediaBinaries`). */
  binary: string;
  apiKey: string;
  apiSecret: string;
  /** HTTP/WebSocket port; `0` picks a free one. @default {0} */
  port?: number;
  /** Where it posts webhooks (signed with `apiKey`); none without it. */
  webhookUrl?: string;
  /** `host:port` of Redis; needed for egress. */
  redisAddress?: string;
  /** Folder for its config (it holds the secret: mode 0600) and log. */
  workDir: string;
}

/** A running livekit-server. */
export interface LiveKitServer {
  /** `ws://127.0.0.1:PORT`, the `LIVEKIT_URL` of the functions and clients. */
  url: string;
  /** The same server over HTTP, for the Twirp API. */
  httpUrl: string;
  process: ServiceProcess;
  stop(): Promise<void>;
}

/**
 * The server's configuration: loopback only (HTTP, and ICE over UDP on one port; the TCP ICE
 * port, which would listen on every interface, is off), the one key pair, and the webhook.
 */
export function livekitConfig(
  options: Omit<LiveKitServerOptions, "binary" | "workDir"> & { port: number; udpPort: number },
): string {
  const lines = [
    `port: ${options.port}`,
    "bind_addresses: [127.0.0.1]",
    "rtc:",
    `  udp_port: ${options.udpPort}`,
    "  tcp_port: 0",
    "  node_ip: 127.0.0.1",
    "  use_external_ip: false",
    "  enable_loopback_candidate: true",
    "  interfaces: { includes: [lo] }",
    "  ips: { includes: [127.0.0.1/32] }",
    "keys:",
    `  ${JSON.stringify(options.apiKey)}: ${JSON.stringify(options.apiSecret)}`,
    "logging: { level: info }",
  ];
  if (options.webhookUrl) {
    lines.push(
      "webhook:",
      `  api_key: ${JSON.stringify(options.apiKey)}`,
      `  urls: [${JSON.stringify(options.webhookUrl)}]`,
    );
  }
  if (options.redisAddress) lines.push("redis:", `  address: ${options.redisAddress}`);
  return lines.join("\n") + "\n";
}

/** Starts livekit-server and waits until its HTTP port answers. */
export async function startLiveKitServer(options: LiveKitServerOptions): Promise<LiveKitServer> {
  const port = options.port || freePort();
  const udpPort = freePort();
  await Deno.mkdir(options.workDir, { recursive: true });
  const configFile = join(options.workDir, "livekit.yaml");
  await Deno.writeTextFile(configFile, livekitConfig({ ...options, port, udpPort }), {
    mode: 0o600,
  });
  const process = await startServiceProcess({
    name: "livekit-server",
    command: options.binary,
    args: ["--config", configFile],
    logFile: join(options.workDir, "livekit-server.log"),
    ready: async () => {
      if (!await listening(port)) return false;
      const response = await fetch(`http://127.0.0.1:${port}/`);
      await response.body?.cancel();
      return response.ok;
    },
  });
  return {
    url: `ws://127.0.0.1:${port}`,
    httpUrl: `http://127.0.0.1:${port}`,
    process,
    stop: process.stop,
  };
}
