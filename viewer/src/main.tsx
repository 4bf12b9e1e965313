/**
 * Entry of the standalone page. The functions URL comes from the page's
 * `<meta name="vr-stream-functions-url">` (set by the build), else this origin's
 * `/functions/v1`, as `deno task dev` serves both.
 */
import { createRoot } from "react-dom/client";
import { takeAddress } from "./address_bar.ts";
import { App } from "./app.tsx";

const configured = document.querySelector<HTMLMetaElement>(
  'meta[name="vr-stream-functions-url"]',
)?.content.trim();
const functionsUrl = configured || `${location.origin}/functions/v1`;
const appName = document.querySelector<HTMLMetaElement>('meta[name="application-name"]')
  ?.content || "VR Stream";

function render() {
  root.render(<App functionsUrl={functionsUrl} address={takeAddress()} appName={appName} />);
}

const root = createRoot(document.getElementById("root")!);
render();
globalThis.addEventListener("hashchange", render);
