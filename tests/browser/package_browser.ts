/**
 * The viewer's npm package as the main web app uses it: `viewer/dist/lib/` (built by
 * `buildPackage`) bundled with the real React 19 and react-dom, served from another origin, and
 * rendering `<StreamList>` and `<StreamViewer>` with a signed-in guardian's access token, across
 * CORS, in Chromium.
 */
import assert from "node:assert/strict";
import * as esbuild from "esbuild";
import { fileURLToPath } from "node:url";
import { DEMO_RECORDING, DEMO_SESSION, GUARDIAN_USER, STREAMER_A } from "../../dev/seed_ids.ts";
import { buildPackage } from "../../viewer/build.ts";
import { startGcsDouble } from "../support/gcs_double.ts";
import { startServer } from "../support/stack.ts";
import { userToken } from "../support/tokens.ts";
import { launchChromium, pageErrors, testMp4, waitForStatus } from "./browser.ts";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const LIVE_SESSION = "c0000000-0000-4000-8000-00000000000c";

/** A host app: the package's components rendered by the host's own React. */
const HOST_APP = `
import { createElement as h } from "react";
import { createRoot } from "react-dom/client";
import { StreamList, StreamViewer } from "./viewer/dist/lib/index.js";
const { functionsUrl, accessToken, sessionId } = globalThis.hostConfig;
createRoot(document.getElementById("list")).render(h(StreamList, { functionsUrl, accessToken }));
createRoot(document.getElementById("viewer")).render(
  h(StreamViewer, { functionsUrl, accessToken, sessionId }),
);`;

async function hostBundle(): Promise<string> {
  await buildPackage();
  const result = await esbuild.build({
    stdin: { contents: HOST_APP, resolveDir: REPO_ROOT, loader: "js" },
    bundle: true,
    splitting: false,
    format: "esm",
    write: false,
    define: { "process.env.NODE_ENV": '"production"' },
    logLevel: "warning",
  });
  await esbuild.stop();
  return result.outputFiles[0].text;
}

Deno.test({
  name: "the npm package renders <StreamList> and <StreamViewer> in a React 19 host app",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const script = await hostBundle();
    const css = await Deno.readTextFile(
      new URL("../../viewer/dist/lib/viewer.css", import.meta.url),
    );
    const host = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () =>
      new Response(
        `<!doctype html><html lang="en"><head><meta charset="utf-8"><style>${css}</style></head>` +
          `<body><main class="vsv-page"><div id="list"></div><div id="viewer"></div></main>` +
          `<script type="module">${
            script.replaceAll("</script", "<\\/script")
          }</script></body></html>`,
        { headers: { "content-type": "text/html; charset=utf-8" } },
      ));
    const hostOrigin = `http://127.0.0.1:${host.addr.port}`;
    const gcs = await startGcsDouble();
    const server = await startServer({ env: { ...gcs.env, ALLOWED_ORIGINS: hostOrigin } });
    const browser = await launchChromium();
    try {
      await server.sql`
        insert into public.stream_sessions
          (id, streamer_id, title, status, room_name, record, created_at, started_at, updated_at)
        values (${LIVE_SESSION}, ${STREAMER_A}, 'Beat Saber', 'live',
                ${`session-${LIVE_SESSION}`}, true, now(), now(), now())`;
      gcs.put(
        `uploads/${STREAMER_A}/${DEMO_SESSION}/${DEMO_RECORDING}.mp4`,
        await testMp4(),
      );
      const accessToken = await userToken(server.env.SUPABASE_JWT_SECRET, GUARDIAN_USER);
      const page = await browser.newPage();
      const errors = pageErrors(page);
      await page.addInitScript((config: unknown) => {
        (globalThis as unknown as { hostConfig: unknown }).hostConfig = config;
      }, { functionsUrl: `${server.url}/functions/v1`, accessToken, sessionId: DEMO_SESSION });
      await page.goto(`${hostOrigin}/`);

      await waitForStatus(page, /^1 live stream\.$/);
      await page.getByRole("button", { name: "Watch Beat Saber" }).waitFor();
      await page.getByText("The stream has ended. 1 recording ready.").waitFor();
      await page.getByRole("button", { name: "Play recording 1" }).click();
      await page.getByText(/^Recording ready/).waitFor();
      const readyState = await page.locator("video").evaluate((video: { readyState: number }) =>
        video.readyState
      );
      assert.ok(readyState >= 1, `the recording did not load (readyState ${readyState})`);
      assert.deepEqual(errors, []);
    } finally {
      await browser.close().catch(() => {});
      await server.stop();
      await gcs.close();
      await host.shutdown();
    }
  },
});
