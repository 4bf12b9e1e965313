/**
 * The browser tier's shared parts: Debian's Chromium (never a downloaded browser) driven by
 * playwright-core, a test MP4 made with ffmpeg, and the page checks every page must pass
 * (one status region, labelled controls of at least 44 px, no sideways scrolling).
 */
import assert from "node:assert/strict";
import { type Browser, chromium, type Page } from "playwright-core";

// The callbacks given to `page.evaluate` run in Chromium. These name the page's globals for the
// type checker, which checks the tests without the DOM's types (they would clash with Deno's).
// deno-lint-ignore no-explicit-any
type PageGlobal = any;
declare const document: PageGlobal;
declare const getComputedStyle: PageGlobal;
declare const innerWidth: number;

/** Where Debian's `apt-get install chromium` puts the browser. */
export const CHROMIUM = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

/** The two sizes every page is tried at: a phone and a laptop. */
export const VIEWPORTS = [
  { name: "phone", width: 390, height: 844 },
  { name: "desktop", width: 1280, height: 800 },
] as const;

/** Launches Chromium. */
export async function launchChromium(): Promise<Browser> {
  return await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/** Collects what the page logs as errors, so a test can show them when it fails. */
export function pageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(`pageerror: ${error.message}`));
  return errors;
}

/** The text of the page's status region, once it matches `expected`. */
export async function waitForStatus(page: Page, expected: RegExp, timeout = 15_000) {
  const status = page.locator('[role="status"]');
  await status.filter({ hasText: expected }).first().waitFor({ timeout });
  return (await status.first().textContent()) ?? "";
}

/**
 * What every page must do at every size: exactly one status region, every control labelled and
 * at least 44 × 44 px, nothing wider than the viewport, and a 16:9 stage where there is one.
 */
export async function assertAccessibleLayout(page: Page, label: string): Promise<void> {
  const report = await page.evaluate(() => {
    const controls = [...document.querySelectorAll("button, a[href], input, select, textarea")]
      .map((element: PageGlobal) => {
        const box = element.getBoundingClientRect();
        const input = element;
        const label = input.labels?.[0]?.getBoundingClientRect();
        const name = (element.getAttribute("aria-label") ?? element.textContent ?? "").trim() ||
          (input.labels?.[0]?.textContent ?? "").trim();
        // A checkbox's target is its whole label row.
        const target = label && input.type === "checkbox" ? label : box;
        return {
          tag: element.tagName.toLowerCase(),
          name,
          width: Math.round(target.width),
          height: Math.round(target.height),
          visible: box.width > 0 && box.height > 0,
        };
      });
    const stage = document.querySelector(".vsv-stage")?.getBoundingClientRect();
    return {
      statusRegions: document.querySelectorAll('[role="status"]').length,
      controls,
      scrollWidth: document.documentElement.scrollWidth,
      viewportWidth: innerWidth,
      stageRatio: stage && stage.height > 0 ? stage.width / stage.height : undefined,
      hiddenVideos: [...document.querySelectorAll("video")]
        .filter((video: PageGlobal) => getComputedStyle(video).display === "none").length,
    };
  });
  assert.equal(report.statusRegions, 1, `${label}: one role="status" region`);
  for (const control of report.controls.filter((c) => c.visible)) {
    assert.ok(control.name, `${label}: a ${control.tag} without a name`);
    assert.ok(
      control.width >= 44 && control.height >= 44,
      `${label}: "${control.name}" is ${control.width}×${control.height} px, under 44 px`,
    );
  }
  assert.ok(
    report.scrollWidth <= report.viewportWidth,
    `${label}: the page is ${report.scrollWidth} px wide in a ${report.viewportWidth} px viewport`,
  );
  if (report.stageRatio !== undefined) {
    assert.ok(Math.abs(report.stageRatio - 16 / 9) < 0.02, `${label}: the stage is not 16:9`);
  }
  assert.equal(report.hiddenVideos, 0, `${label}: a <video> hidden with display: none`);
}

/** Saves a screenshot to `viewer/screenshots/` when `VIEWER_SCREENSHOTS=1` (README pictures). */
export async function screenshot(page: Page, name: string): Promise<void> {
  if (Deno.env.get("VIEWER_SCREENSHOTS") !== "1") return;
  const dir = new URL("../../viewer/screenshots/", import.meta.url);
  await Deno.mkdir(dir, { recursive: true });
  await page.screenshot({ path: new URL(`${name}.png`, dir).pathname, fullPage: false });
}

/**
 * A 6-second H.264/AAC MP4 (a moving test pattern and a tone, `faststart`, as egress writes),
 * made with ffmpeg once per run.
 */
export async function testMp4(): Promise<Uint8Array<ArrayBuffer>> {
  const path = await Deno.makeTempFile({ suffix: ".mp4" });
  try {
    const { success, stderr } = await new Deno.Command("ffmpeg", {
      args: [
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=640x360:rate=30",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000",
        "-t",
        "6",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-g",
        "30",
        "-c:a",
        "aac",
        "-movflags",
        "+faststart",
        path,
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!success) {
      throw new Error(`Cannot make the test MP4 with ffmpeg: ${new TextDecoder().decode(stderr)}`);
    }
    return await Deno.readFile(path);
  } finally {
    await Deno.remove(path).catch(() => {});
  }
}
