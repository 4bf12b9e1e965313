/**
 * The egress of the embedded LiveKit stand-in (`dev/livekit_standin.ts`), for machines that
 * cannot run LiveKit's egress service: a recording is a real, playable MP4 made here when it
 * ends: an H.264 test pattern (640x360, 15 fps) with an Opus tone, as long as the recording
 * was (at most `maxSeconds`), stored in the local bucket under the path the egress request
 * named. Nothing is downloaded: GStreamer's `gst-launch-1.0` (`videotestsrc ! x264enc ! mp4mux`,
 * Debian's `gstreamer1.0-tools` with `gstreamer1.0-plugins-{base,good,ugly}`) makes it, or
 * `ffmpeg` (lavfi `testsrc`, libx264) when GStreamer is missing. See
 * {@linkcode findMp4Encoder} and {@linkcode createStandInEgress}.
 */
import { join } from "node:path";

/** A program on this machine that can make the test-pattern MP4. */
export interface Mp4Encoder {
  kind: "gstreamer" | "ffmpeg";
  /** The program's path. */
  path: string;
}

/** What the stand-in's egress needs: where to store files, and how to make them. */
export interface StandInEgress {
  /** Describes the encoder, for the banner of `deno task dev`. */
  describe: string;
  /** Makes and stores the MP4 of a recording of `seconds`; returns what egress reports. */
  record(options: { objectName: string; seconds: number }): Promise<RecordedFile>;
}

/** A stored recording, as egress reports it in `fileResults`. */
export interface RecordedFile {
  filename: string;
  location: string;
  size: number;
  /** The file's own length, in seconds (the recording's, capped). */
  seconds: number;
}

/** Options of {@linkcode createStandInEgress}. */
export interface StandInEgressOptions {
  encoder: Mp4Encoder;
  /** Stores a finished file in the bucket; returns its location URL. */
  store(objectName: string, mp4: Uint8Array): Promise<string>;
  /** The longest file made, in seconds, so a long session costs little CPU. @default {60} */
  maxSeconds?: number;
}

const WIDTH = 640;
const HEIGHT = 360;
const FPS = 15;

async function onPath(program: string): Promise<string | undefined> {
  for (const folder of (Deno.env.get("PATH") ?? "/usr/bin:/bin").split(":")) {
    const candidate = join(folder, program);
    try {
      const info = await Deno.stat(candidate);
      if (info.isFile && (info.mode ?? 0o111) & 0o111) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * GStreamer's `gst-launch-1.0` when it can run the pipeline's elements, else `ffmpeg`, else
 * undefined (then the stand-in's auto egress fails as LiveKit's does without an egress service).
 */
export async function findMp4Encoder(): Promise<Mp4Encoder | undefined> {
  const gst = await onPath("gst-launch-1.0");
  if (gst && await gstreamerHasElements()) return { kind: "gstreamer", path: gst };
  const ffmpeg = await onPath("ffmpeg");
  return ffmpeg ? { kind: "ffmpeg", path: ffmpeg } : undefined;
}

async function gstreamerHasElements(): Promise<boolean> {
  const inspect = await onPath("gst-inspect-1.0");
  if (!inspect) return false;
  for (const element of ["videotestsrc", "x264enc", "mp4mux", "audiotestsrc", "opusenc"]) {
    const { success } = await new Deno.Command(inspect, {
      args: ["--exists", element],
      stdout: "null",
      stderr: "null",
    }).output();
    if (!success) return false;
  }
  return true;
}

/** The command line that writes `seconds` of test pattern and tone to `path`. */
export function encoderArgs(encoder: Mp4Encoder, seconds: number, path: string): string[] {
  if (encoder.kind === "gstreamer") {
    return [
      "-q",
      "videotestsrc",
      `num-buffers=${Math.round(seconds * FPS)}`,
      "pattern=smpte",
      "!",
      `video/x-raw,width=${WIDTH},height=${HEIGHT},framerate=${FPS}/1`,
      "!",
      "x264enc",
      "speed-preset=ultrafast",
      `key-int-max=${FPS * 2}`,
      "!",
      "h264parse",
      "!",
      "mp4mux",
      "name=mux",
      "!",
      "filesink",
      `location=${path}`,
      "audiotestsrc",
      `num-buffers=${Math.round(seconds * 100)}`,
      "samplesperbuffer=480",
      "!",
      "audio/x-raw,rate=48000",
      "!",
      "audioconvert",
      "!",
      "opusenc",
      "!",
      "mux.",
    ];
  }
  return [
    "-v",
    "error",
    "-f",
    "lavfi",
    "-i",
    `testsrc=size=${WIDTH}x${HEIGHT}:rate=${FPS}:duration=${seconds}`,
    "-f",
    "lavfi",
    "-i",
    `sine=frequency=440:duration=${seconds}`,
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-pix_fmt",
    "yuv420p",
    "-c:a",
    "libopus",
    "-movflags",
    "+faststart",
    "-y",
    path,
  ];
}

/** Makes an MP4 of `seconds` of test pattern and tone. */
export async function encodeTestPattern(encoder: Mp4Encoder, seconds: number): Promise<Uint8Array> {
  const folder = await Deno.makeTempDir({ prefix: "standin-egress-" });
  const path = join(folder, "recording.mp4");
  try {
    const { success, stderr } = await new Deno.Command(encoder.path, {
      args: encoderArgs(encoder, seconds, path),
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!success) {
      const reason = new TextDecoder().decode(stderr).trim().split("\n").slice(-2).join(" ");
      throw new Error(`Cannot make the recording with ${encoder.kind}: ${reason}`);
    }
    return await Deno.readFile(path);
  } finally {
    await Deno.remove(folder, { recursive: true }).catch(() => {});
  }
}

/** The stand-in's egress over an encoder and a bucket. */
export function createStandInEgress(options: StandInEgressOptions): StandInEgress {
  const maxSeconds = options.maxSeconds ?? 60;
  return {
    describe: `${options.encoder.kind} (${options.encoder.path})`,
    async record({ objectName, seconds }) {
      const length = Math.min(maxSeconds, Math.max(1, Math.round(seconds)));
      const mp4 = await encodeTestPattern(options.encoder, length);
      const location = await options.store(objectName, mp4);
      return { filename: objectName, location, size: mp4.byteLength, seconds: length };
    },
  };
}
