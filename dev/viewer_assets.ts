/**
 * The web viewer as `deno task dev` serves it: `GET /viewer/…` answers the standalone page's
 * static files from `viewer/dist/page/`, building them first (`viewer/build.ts`) when they are
 * missing or older than their sources. `/viewer` redirects to `/viewer/` (email links are
 * `{VIEWER_URL}/#/…`; browsers keep the fragment across the redirect).
 *
 * The link tokens live in the URL fragment, which browsers never send, so nothing here (nor in
 * any log) ever sees one.
 */
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

/** The path prefix the viewer answers under. */
export const VIEWER_PATH = "/viewer";

/** Where `viewer/build.ts` writes the page. */
const PAGE_DIR = fileURLToPath(new URL("../viewer/dist/page", import.meta.url));

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json",
  ".png": "image/png",
  ".svg": "image/svg+xml",
};

/** Options of {@linkcode createViewerAssets}. */
export interface ViewerAssetsOptions {
  /** Receives one line per build; never a secret. @default console.log */
  log?: (line: string) => void;
}

/** Whether `pathname` is the viewer's. */
export function isViewerPath(pathname: string): boolean {
  return pathname === VIEWER_PATH || pathname.startsWith(`${VIEWER_PATH}/`);
}

/** Serves the viewer, rebuilding it when a request for its page finds it stale. */
export function createViewerAssets(
  options: ViewerAssetsOptions = {},
): (request: Request) => Promise<Response> {
  const log = options.log ?? console.log;
  let building: Promise<void> | undefined;

  async function ensureBuilt(): Promise<void> {
    // Imported here: esbuild is needed only when the viewer is asked for, not by every start.
    const { buildPage, pageIsFresh } = await import("../viewer/build.ts");
    if (await pageIsFresh(PAGE_DIR)) return;
    building ??= (async () => {
      const started = performance.now();
      try {
        const page = await buildPage({ outDir: PAGE_DIR });
        log(
          `Viewer: built viewer/dist/page/ in ${Math.round(performance.now() - started)} ms ` +
            `(shell ${(page.shellGzipBytes / 1024).toFixed(1)} KiB gzip)`,
        );
      } finally {
        building = undefined;
      }
    })();
    await building;
  }

  return async function viewerAssets(request: Request): Promise<Response> {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return text("Only GET is served here.\n", 405, { allow: "GET, HEAD" });
    }
    const { pathname } = new URL(request.url);
    if (pathname === VIEWER_PATH) {
      return new Response(null, { status: 308, headers: { location: `${VIEWER_PATH}/` } });
    }
    let file = decodeURIComponent(pathname.slice(VIEWER_PATH.length + 1));
    if (file === "" || file === "index.html") {
      file = "index.html";
      try {
        await ensureBuilt();
      } catch (error) {
        log(`Viewer: cannot build: ${error instanceof Error ? error.message : error}`);
        return text("Cannot build the viewer; see the server's output.\n", 500);
      }
    }
    const path = normalize(join(PAGE_DIR, file));
    if (!path.startsWith(`${PAGE_DIR}/`) || file.includes("\0")) return text("Not found.\n", 404);
    let body: Uint8Array<ArrayBuffer>;
    try {
      body = await Deno.readFile(path);
    } catch {
      return text("Not found.\n", 404);
    }
    const type = CONTENT_TYPES[extname(path)] ?? "application/octet-stream";
    // Assets carry a content hash in their names; the page itself must always be revalidated.
    const cache = file === "index.html" ? "no-cache" : "public, max-age=31536000, immutable";
    return new Response(request.method === "HEAD" ? null : body, {
      headers: { "content-type": type, "cache-control": cache, ...SECURITY_HEADERS },
    });
  };
}

const SECURITY_HEADERS = {
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
};

function text(body: string, status: number, headers: Record<string, string> = {}): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...SECURITY_HEADERS, ...headers },
  });
}
