/**
 * `GET recording-url`: a V4 signed `GET` URL of a ready recording, valid at most 15 minutes
 * (and never beyond the link it was asked with), for the streamer, an active guardian with an
 * account, or the holder of a recording link. The bucket answers it with a
 * `Content-Disposition` naming the file after the session.
 */
import { z } from "zod";
import { bearerToken, type TokenVerifier } from "../../../shared/kernel/auth.ts";
import { readQuery } from "../../../shared/kernel/body.ts";
import type { Database } from "../../../shared/kernel/db.ts";
import { conflict, invalidRequest } from "../../../shared/kernel/errors.ts";
import {
  createFunction,
  type HandlerOptions,
  json,
  type RequestContext,
} from "../../../shared/kernel/http.ts";
import { findLinkToken, invalidLink, type LinkSigner } from "../../../shared/kernel/link.ts";
import { enforceRateLimit } from "../../../shared/kernel/rate_limit.ts";
import {
  DOWNLOAD_URL_LIFETIME_SECONDS,
  findRecording,
  recordingContentDisposition,
  type RecordingDetail,
  recordingNotFound,
  requireStorage,
} from "../../../shared/recordings.ts";
import { toRecording } from "../../../shared/sessions.ts";
import type { ObjectStorage } from "../../../shared/storage.ts";

const Query = z.strictObject({
  recordingId: z.uuid().optional(),
  link: z.string().min(1).max(4096).optional(),
});

/** A signed-in user: 120 a minute. */
const LIMIT = { name: "recording-url", limit: 120, windowSeconds: 60 };
/** A recording link (a guardian's, for one recording): 30 a minute, however it is presented. */
const LINK_LIMIT = { name: "recording-url-link", limit: 30, windowSeconds: 60 };

/** Options of {@linkcode createRecordingUrlHandler}. */
export interface RecordingUrlOptions extends HandlerOptions {
  db: Database;
  verifier: TokenVerifier;
  links: LinkSigner;
  /** The bucket; without one every URL is `503 storage_unavailable`. */
  storage: ObjectStorage | undefined;
}

interface Access {
  recording: RecordingDetail;
  /** The URL must not outlive this (the link's own expiry). */
  notAfter?: Date;
}

/** Builds the `recording-url` function. */
export function createRecordingUrlHandler(options: RecordingUrlOptions) {
  const { db, clock } = options;

  async function byLink(
    token: string,
    context: RequestContext,
  ): Promise<Access> {
    const link = await options.links.verify(token, "recording");
    context.annotate({ guardianId: link.guardianId });
    // Counted once the link is ours (signature, type, expiry), before the database is asked
    // whether its guardian and recording still stand: a leaked link cannot hammer either.
    await enforceRateLimit(db, {
      limit: LINK_LIMIT,
      subject: `${link.guardianId}:${link.objectId}`,
      clock,
    });
    // The link works while its guardian is active and the recording is theirs to see.
    const recording = await db.asService(async (tx) => {
      const [guardian] = await tx<{ streamer_id: string }[]>`
        select streamer_id from public.guardians
         where id = ${link.guardianId} and status = 'active'`;
      if (!guardian) return undefined;
      const found = await findRecording(tx, link.objectId);
      return found?.streamer_id === guardian.streamer_id ? found : undefined;
    });
    if (!recording || recording.status === "deleted") throw invalidLink();
    return { recording, notAfter: link.expiresAt };
  }

  async function byUser(
    request: Request,
    recordingId: string | undefined,
  ): Promise<Access> {
    const user = await options.verifier.verifyUser(bearerToken(request));
    if (!recordingId) {
      throw invalidRequest([{
        path: "recordingId",
        message: "Give a recordingId or a link.",
      }]);
    }
    await enforceRateLimit(db, { limit: LIMIT, subject: user.sub, clock });
    const recording = await db.asUser(
      user,
      (tx) => findRecording(tx, recordingId),
    );
    if (!recording || recording.status === "deleted") {
      throw recordingNotFound();
    }
    return { recording };
  }

  return createFunction({ ...options, name: "recording-url" }, {
    async GET(request, context) {
      const query = readQuery(request, Query);
      const link = findLinkToken(request);
      const { recording, notAfter } = link
        ? await byLink(link, context)
        : await byUser(request, query.recordingId);
      context.annotate({ recordingId: recording.id });
      if (recording.status !== "ready" || !recording.object_path) {
        throw conflict(
          "recording_not_ready",
          recording.status === "failed"
            ? "This recording failed and cannot be played."
            : `This recording is not ready yet (it is ${recording.status}).`,
        );
      }

      const now = clock.now();
      const latest = now.getTime() + DOWNLOAD_URL_LIFETIME_SECONDS * 1000;
      const expiresAt = new Date(
        Math.min(latest, notAfter?.getTime() ?? latest),
      );
      // A URL must live at least a second (V4 counts whole seconds): a link about to expire
      // has nothing left to give.
      if (expiresAt.getTime() - now.getTime() < 1000) throw invalidLink();
      const signed = await requireStorage(options.storage).signDownload(
        recording.object_path,
        {
          now,
          expiresAt,
          contentDisposition: recordingContentDisposition(recording),
        },
      );
      return json(
        {
          url: signed.url,
          expiresAt: signed.expiresAt.toISOString(),
          recording: toRecording(recording),
        },
        200,
        { "cache-control": "no-store" },
      );
    },
  });
}
