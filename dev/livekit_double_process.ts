/**
 * The LiveKit API double of `tests/support/` in a process of its own, for the bench: LiveKit
 * runs on other machines in production, so its work should not be measured on the
 * functions' JavaScript thread. Prints one JSON line (`url`, `apiKey`, `apiSecret`) when it
 * listens and stops when its standard input closes. See {@linkcode startLiveKitProcess}.
 */
import { startLiveKitDouble } from "../tests/support/livekit_double.ts";

/** A LiveKit double running in a child process. */
export interface LiveKitProcess {
  apiKey: string;
  apiSecret: string;
  /** `LIVEKIT_URL`, `LIVEKIT_API_KEY` and `LIVEKIT_API_SECRET` for the functions. */
  env: Record<string, string>;
  close(): Promise<void>;
}

/** Starts this file as a child process and waits until its double listens. */
export async function startLiveKitProcess(): Promise<LiveKitProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env", "--allow-read", import.meta.filename!],
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
      throw new Error(`The LiveKit double exited before listening (${(await child.status).code})`);
    }
    text += value;
  }
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  const { url, apiKey, apiSecret } = JSON.parse(text.slice(0, text.indexOf("\n")));
  return {
    apiKey,
    apiSecret,
    env: { LIVEKIT_URL: url, LIVEKIT_API_KEY: apiKey, LIVEKIT_API_SECRET: apiSecret },
    async close() {
      await stdin.close().catch(() => {});
      await child.status;
    },
  };
}

if (import.meta.main) {
  const double = startLiveKitDouble();
  console.log(
    JSON.stringify({ url: double.url, apiKey: double.apiKey, apiSecret: double.apiSecret }),
  );
  // The calls it records are of no use here, and would grow for the whole run.
  setInterval(() => double.calls.splice(0), 1000);
  for await (const _ of Deno.stdin.readable) { /* until the parent closes it */ }
  await double.close();
  Deno.exit(0);
}
