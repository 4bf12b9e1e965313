/**
 * The Unity package's test tier: compiles `unity-client/Runtime/Core` and
 * `unity-client/Tests/Core` with Debian's `mcs` (C# 7.2, no Unity assembly), starts the local
 * stack (the project's functions on a fresh database, with the loopback LiveKit and GCS
 * doubles), puts the fault proxy and the Supabase Auth stand-in in front of it, and runs the
 * NUnit tests with `nunit-console` (NUnit 2.6). The tests find the stack through `VRSTREAM_TEST_*`
 * environment variables. A test that did not run (ignored, say) counts as failed here.
 * Ends with Deno's summary line (`ok | N passed | 0 failed`), which `.ci/run` reads.
 *
 * Run: `deno run -A tests/unity/run_nunit.ts` (or `deno task test:unity`).
 */
import { STREAMER_A, STREAMER_B } from "../../dev/seed_ids.ts";
import { startGcsDouble } from "../support/gcs_double.ts";
import { startLiveKitDouble } from "../support/livekit_double.ts";
import { startServer, testSecret } from "../support/stack.ts";
import { startAuthStandIn } from "./auth_stand_in.ts";
import { type Fault, startFaultProxy } from "./fault_proxy.ts";
import { checkMetas } from "./unity_meta.ts";

const REPO_ROOT = new URL("../../", import.meta.url).pathname;
const PACKAGE = `${REPO_ROOT}unity-client`;
const NUNIT_FRAMEWORK_CANDIDATES = [
  "/usr/lib/cli/nunit.framework-2.6.3/nunit.framework.dll",
  "/usr/lib/cli/nunit.framework-2.6/nunit.framework.dll",
];
const NUNIT_TIMEOUT_MS = 10 * 60_000;

/** Outcomes of the tier: NUnit's test cases plus the package layout check. */
interface Outcome {
  passed: number;
  failed: number;
  /** The runner itself succeeded (nunit-console exited 0 and wrote results). */
  clean: boolean;
}

async function main(): Promise<number> {
  const layout = await checkLayout();
  const build = await Deno.makeTempDir({ prefix: "vrstream-unity-" });
  try {
    const assemblies = await compile(build);
    const tests = await withStack(build, (env) => runNUnit(build, assemblies.tests, env));
    const passed = tests.passed + layout.passed;
    const failed = tests.failed + layout.failed;
    const ok = failed === 0 && tests.clean;
    console.log(`${ok ? "ok" : "FAILED"} | ${passed} passed | ${failed} failed`);
    return ok ? 0 : 1;
  } finally {
    await Deno.remove(build, { recursive: true }).catch(() => {});
  }
}

/** Every file and folder of the package has its stable-GUID meta (see unity_meta.ts). */
async function checkLayout(): Promise<Outcome> {
  const { stale, orphans } = await checkMetas();
  for (const path of stale) console.log(`stale or missing meta: ${path}`);
  for (const path of orphans) console.log(`orphan meta: ${path}`);
  const ok = stale.length + orphans.length === 0;
  console.log(
    `${ok ? "ok    " : "FAILED"} unity-client: every asset has its .meta with a stable GUID`,
  );
  return { passed: ok ? 1 : 0, failed: ok ? 0 : 1, clean: true };
}

/** Builds the core and its tests; throws with mcs's output when either fails. */
async function compile(build: string): Promise<{ core: string; tests: string }> {
  const framework = await nunitFramework();
  await Deno.copyFile(framework, `${build}/nunit.framework.dll`);
  const core = `${build}/VrStream.Client.Core.dll`;
  const tests = `${build}/VrStream.Client.Tests.Core.dll`;
  const common = ["-langversion:7.2", "-target:library", "-warnaserror+", "-r:System.Net.Http"];
  await run("mcs", [...common, `-out:${core}`, `-recurse:${PACKAGE}/Runtime/Core/*.cs`]);
  await run("mcs", [
    ...common,
    `-r:${core}`,
    `-r:${build}/nunit.framework.dll`,
    `-out:${tests}`,
    `-recurse:${PACKAGE}/Tests/Core/*.cs`,
  ]);
  return { core, tests };
}

async function nunitFramework(): Promise<string> {
  const given = Deno.env.get("NUNIT_FRAMEWORK_DLL");
  for (const path of given ? [given] : NUNIT_FRAMEWORK_CANDIDATES) {
    try {
      await Deno.stat(path);
      return path;
    } catch {
      // Try the next one.
    }
  }
  throw new Error(
    "Cannot find NUnit 2.6's nunit.framework.dll: install libnunit-framework2.6.3-cil or set NUNIT_FRAMEWORK_DLL.",
  );
}

/** The stack the tests drive, the variables that point them at it, and its teardown. */
async function withStack<T>(
  build: string,
  body: (env: Record<string, string>) => Promise<T>,
): Promise<T> {
  const apiKey = `sb_publishable_test_${testSecret().slice(0, 16)}`;
  const jwtSecret = testSecret();
  const livekit = startLiveKitDouble();
  const gcs = await startGcsDouble();
  // The proxy is the project URL, so the tokens' issuer names it: it exists before the server.
  const proxy = startFaultProxy({ local: (request) => control(request) });
  const auth = startAuthStandIn({ supabaseUrl: proxy.url, jwtSecret, apiKey });

  async function control(request: Request): Promise<Response | undefined> {
    const url = new URL(request.url);
    if (url.pathname.startsWith("/auth/v1/")) return await auth.handle(request);
    switch (`${request.method} ${url.pathname}`) {
      case "POST /__test/auth/sessions": {
        const { userId, expiresInSeconds } = await request.json();
        return Response.json(await auth.issue(userId, expiresInSeconds));
      }
      case "GET /__test/auth/stats":
        return Response.json(auth.stats());
      case "POST /__test/faults": {
        const { function: fn, faults } = await request.json() as {
          function: string;
          faults: Fault[];
        };
        proxy.inject(fn, faults);
        return new Response(null, { status: 204 });
      }
      case "GET /__test/calls": {
        const fn = url.searchParams.get("function");
        return Response.json(proxy.calls.filter((call) => !fn || call.function === fn));
      }
      case "POST /__test/reset":
        proxy.reset();
        return new Response(null, { status: 204 });
      case "GET /__test/storage/objects": {
        const contains = url.searchParams.get("contains") ?? "";
        const objects = [];
        for (const object of gcs.objects.values()) {
          if (!object.name.includes(contains)) continue;
          const digest = await crypto.subtle.digest("SHA-256", object.data);
          objects.push({
            name: object.name,
            size: object.data.byteLength,
            contentType: object.contentType,
            sha256: [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join(
              "",
            ),
          });
        }
        return Response.json(objects);
      }
    }
    return undefined;
  }

  try {
    const server = await startServer({
      env: {
        ...livekit.env,
        ...gcs.env,
        LIVEKIT_TIMEOUT_SECONDS: "2",
        SUPABASE_URL: proxy.url,
        SUPABASE_JWT_SECRET: jwtSecret,
      },
    });
    try {
      proxy.upstream = server.url;
      return await body({
        VRSTREAM_TEST_SUPABASE_URL: proxy.url,
        VRSTREAM_TEST_API_KEY: apiKey,
        VRSTREAM_TEST_CONTROL_URL: `${proxy.url}/__test/`,
        VRSTREAM_TEST_STREAMER_ID: STREAMER_A,
        VRSTREAM_TEST_OTHER_STREAMER_ID: STREAMER_B,
        VRSTREAM_TEST_WORK_DIR: build,
      });
    } finally {
      await server.stop();
    }
  } finally {
    await proxy.close();
    await gcs.close();
    await livekit.close();
  }
}

/** Runs nunit-console and prints each test's outcome; a test that did not run counts as failed. */
async function runNUnit(
  build: string,
  tests: string,
  env: Record<string, string>,
): Promise<Outcome> {
  const result = `${build}/TestResult.xml`;
  const child = new Deno.Command("nunit-console", {
    args: ["-nologo", "-noshadow", "-labels", `-xml=${result}`, tests],
    cwd: build,
    env,
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), NUNIT_TIMEOUT_MS);
  const status = await child.status;
  clearTimeout(timer);

  let xml: string;
  try {
    xml = await Deno.readTextFile(result);
  } catch {
    console.error(`nunit-console wrote no result (exit ${status.code}).`);
    return { passed: 0, failed: 1, clean: false };
  }
  const cases = [...xml.matchAll(/<test-case\b([^>]*)>/g)].map((match) => ({
    name: attribute(match[1], "name"),
    result: attribute(match[1], "result"),
  }));
  const failed = cases.filter((c) => c.result !== "Success");
  const passed = cases.length - failed.length;
  for (const c of cases) console.log(`${c.result === "Success" ? "ok    " : "FAILED"} ${c.name}`);
  if (cases.length === 0) {
    console.error("nunit-console ran no test.");
    return { passed: 0, failed: 1, clean: false };
  }
  return { passed, failed: failed.length, clean: status.success };
}

function attribute(attributes: string, name: string): string {
  const value = new RegExp(`\\b${name}="([^"]*)"`).exec(attributes)?.[1] ?? "";
  return value.replaceAll("&quot;", '"').replaceAll("&lt;", "<").replaceAll("&gt;", ">")
    .replaceAll("&amp;", "&");
}

async function run(command: string, args: string[]): Promise<void> {
  const output = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" })
    .output();
  if (!output.success) {
    const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
    throw new Error(`${command} failed (exit ${output.code}):\n${text}`);
  }
}

if (import.meta.main) {
  Deno.exit(await main());
}
