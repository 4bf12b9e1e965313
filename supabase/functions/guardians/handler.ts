/**
 * `guardians`: who may watch a streamer (API.md, "Who may see a child").
 *
 * - The service (the main app's parent mapping) registers guardians: `POST { streamerId, email,
 *   name?, role }` makes a `pending` guardian with a consent email; a new primary guardian
 *   replaces the old one, which is revoked in the same transaction.
 * - The streamer lists (`GET`), invites (`POST { email, name?, notify? }`) and revokes
 *   (`DELETE ?guardianId=`) its viewers. An invitation waits in `awaiting_approval`, and only the
 *   streamer's active primary guardian gets an email about it (an approval link).
 * - The account bound to the active primary guardian lists (`GET ?streamerId=`) and revokes
 *   (`DELETE ?streamerId=&guardianId=`) the streamer's guardians.
 *
 * Every write is one owner-only SQL function (shared/guardians.ts lists them) that checks who may
 * do it; emails are queued in the same transaction and sent in the background. Revoking removes
 * the guardian's viewer identity from every live room of the streamer.
 */
import { z } from "zod";
import { bearerToken, type TokenVerifier, type UserClaims } from "../../../shared/kernel/auth.ts";
import { readJson, readQuery } from "../../../shared/kernel/body.ts";
import type { Database } from "../../../shared/kernel/db.ts";
import { conflict, forbidden, notFound, unauthorized } from "../../../shared/kernel/errors.ts";
import {
  guardianFromJson,
  type GuardianRow,
  requireFullAccount,
  selectGuardians,
  toGuardian,
} from "../../../shared/guardians.ts";
import {
  createFunction,
  type HandlerOptions,
  json,
  type RequestContext,
} from "../../../shared/kernel/http.ts";
import type { Logger } from "../../../shared/kernel/log.ts";
import { guardianExists, guardianLimit } from "../../../shared/kernel/pg_errors.ts";
import type { DrainRequester } from "../../../shared/outbox_drain.ts";
import { rateLimited } from "../../../shared/kernel/rate_limit.ts";
import { safeText } from "../../../shared/kernel/text.ts";

/** Trimmed, lower-cased, then checked as an address; the result is what the table stores. */
const Email = z.string().trim().toLowerCase().max(
  254,
  "The email address is too long.",
)
  .pipe(z.email({ error: "This is not a valid email address." }));

const Name = safeText({ max: 100, label: "The name" });

const Notify = z.strictObject({
  streamStarted: z.boolean().optional(),
  streamEnded: z.boolean().optional(),
  recordingReady: z.boolean().optional(),
});

const InviteBody = z.strictObject({
  email: Email,
  name: Name.nullable().optional(),
  notify: Notify.optional(),
});

const RegisterBody = z.strictObject({
  streamerId: z.uuid(),
  email: Email,
  name: Name.nullable().optional(),
  role: z.enum(["primary", "viewer"], {
    error: 'role must be "primary" or "viewer".',
  }),
});

const ListQuery = z.strictObject({ streamerId: z.uuid().optional() });

const RevokeQuery = z.strictObject({
  guardianId: z.uuid(),
  streamerId: z.uuid().optional(),
});

/** The 30-invitations-an-hour limit, as `private.guardian_invite` counts it. */
const INVITE_LIMIT = { name: "guardians-add", limit: 30, windowSeconds: 3600 };

/** Removes a viewer identity from a LiveKit room; a participant not there is fine. */
export type RemoveParticipant = (
  target: { roomName: string; identity: string },
) => Promise<void>;

/** Options of {@linkcode createGuardiansHandler}. */
export interface GuardiansOptions extends HandlerOptions {
  db: Database;
  verifier: TokenVerifier;
  /** Asks send-notification to send the queued emails now. */
  drain: DrainRequester;
  /** LiveKit's RemoveParticipant; without LiveKit configured, undefined (nothing is live). */
  removeParticipant?: RemoveParticipant;
}

type Caller = { kind: "service" } | { kind: "user"; user: UserClaims };

/** Builds the `guardians` function. */
export function createGuardiansHandler(options: GuardiansOptions) {
  const { db, clock } = options;

  /** The service credential or a user's access token; anything else is `401 unauthorized`. */
  async function callerOf(
    request: Request,
    context: RequestContext,
  ): Promise<Caller> {
    const token = bearerToken(request);
    try {
      await options.verifier.verifyService(token);
      context.annotate({ caller: "service" });
      return { kind: "service" };
    } catch {
      const user = await options.verifier.verifyUser(token);
      context.annotate({ userId: user.sub });
      requireFullAccount(user);
      return { kind: "user", user };
    }
  }

  async function userOf(
    request: Request,
    context: RequestContext,
  ): Promise<UserClaims> {
    const caller = await callerOf(request, context);
    if (caller.kind === "service") {
      throw forbidden(
        "The service registers guardians; listing and revoking are for people.",
      );
    }
    return caller.user;
  }

  async function invite(
    user: UserClaims,
    request: Request,
    context: RequestContext,
  ) {
    const input = await readJson(request, InviteBody);
    const [result] = await db.sql<InviteResult[]>`
      select outcome, guardian, retry_after_seconds
        from private.guardian_invite(
          p_streamer_id => ${user.sub}, p_email => ${input.email}, p_name => ${input.name ?? null},
          p_notify => ${db.sql.json(input.notify ?? {})}, p_now => ${clock.now()})`;
    if (result.outcome === "unknown_user") {
      throw unauthorized("The access token names no user.");
    }
    if (result.outcome === "rate_limited") {
      throw rateLimited(INVITE_LIMIT, result.retry_after_seconds);
    }
    if (result.outcome === "primary_guardian_required") {
      throw conflict(
        "primary_guardian_required",
        "Nobody can approve this invitation: you have no active primary guardian yet.",
      );
    }
    if (result.outcome === "guardian_exists") throw guardianExists();
    if (result.outcome === "guardian_limit") throw guardianLimit();
    const guardian = guardianFromJson(result.guardian!);
    context.annotate({ guardianId: guardian.id });
    options.drain.request(context.log);
    return json({ guardian: toGuardian(guardian) }, 201);
  }

  async function register(request: Request, context: RequestContext) {
    const input = await readJson(request, RegisterBody);
    const [result] = await db.sql<RegisterResult[]>`
      select outcome, guardian, revoked_ids
        from private.guardian_register(
          p_streamer_id => ${input.streamerId}, p_email => ${input.email},
          p_name => ${input.name ?? null}, p_role => ${input.role}, p_now => ${clock.now()})`;
    if (result.outcome === "unknown_streamer") {
      throw notFound("No streamer with this id exists.");
    }
    const guardian = guardianFromJson(result.guardian!);
    context.annotate({
      guardianId: guardian.id,
      role: input.role,
      outcome: result.outcome,
    });
    if (result.revoked_ids.length > 0) {
      await removeFromLiveRooms(
        input.streamerId,
        result.revoked_ids,
        context.log,
      );
    }
    if (result.outcome === "unchanged") {
      return json({ guardian: toGuardian(guardian) });
    }
    options.drain.request(context.log);
    return json({ guardian: toGuardian(guardian) }, 201);
  }

  /**
   * RemoveParticipant for each guardian's viewer identity in every starting or live room of the
   * streamer. The revocation is already committed, and LiveKit lets nobody join with a grant of
   * a revoked guardian for longer than a grant lives; a LiveKit failure is logged, and revoking
   * again tries again.
   */
  async function removeFromLiveRooms(
    streamerId: string,
    guardianIds: string[],
    log: Logger,
  ) {
    if (!options.removeParticipant) return;
    const rooms = await db.asService((tx) =>
      tx<{ room_name: string }[]>`
        select s.room_name from public.stream_sessions s
         where s.streamer_id = ${streamerId} and s.status in ('starting', 'live')`
    );
    const removals = rooms.flatMap(({ room_name }) =>
      guardianIds.map(async (guardianId) => {
        // API.md: a guardian's viewer identity is guardian:{guardianId}, whichever door it used.
        const identity = `guardian:${guardianId}`;
        try {
          await options.removeParticipant!({ roomName: room_name, identity });
        } catch (error) {
          log.warn("a revoked guardian could not be removed from a live room", {
            roomName: room_name,
            guardianId,
            reason: error instanceof Error ? error.message : String(error),
          });
        }
      })
    );
    await Promise.all(removals);
  }

  return createFunction({ ...options, name: "guardians" }, {
    async GET(request, context) {
      const user = await userOf(request, context);
      const { streamerId = user.sub } = readQuery(request, ListQuery);
      let rows: GuardianRow[];
      if (streamerId === user.sub) {
        rows = await db.asUser(user, (tx) =>
          tx<GuardianRow[]>`
            ${selectGuardians(tx)}
             where g.streamer_id = ${user.sub}
             order by g.created_at desc, g.id`);
      } else {
        context.annotate({ streamerId });
        rows = await db.asService(async (tx) => {
          const [access] = await tx<{ role: string }[]>`
            select g.role from public.guardians g
             where g.streamer_id = ${streamerId} and g.user_id = ${user.sub}
               and g.status = 'active'`;
          if (!access) {
            throw notFound("No streamer with this id is visible to you.");
          }
          if (access.role !== "primary") {
            throw forbidden(
              "Only the primary guardian lists a streamer's guardians.",
            );
          }
          return await tx<GuardianRow[]>`
            ${selectGuardians(tx)}
             where g.streamer_id = ${streamerId}
             order by g.created_at desc, g.id`;
        });
      }
      return json({ guardians: rows.map(toGuardian) });
    },

    async POST(request, context) {
      const caller = await callerOf(request, context);
      return caller.kind === "service"
        ? await register(request, context)
        : await invite(caller.user, request, context);
    },

    async DELETE(request, context) {
      const user = await userOf(request, context);
      const { guardianId, streamerId } = readQuery(request, RevokeQuery);
      context.annotate({ guardianId });
      const [result] = await db.sql<RevokeResult[]>`
        select outcome, guardian
          from private.guardian_revoke(
            p_actor_id => ${user.sub}, p_guardian_id => ${guardianId},
            p_streamer_id => ${streamerId ?? null}, p_now => ${clock.now()})`;
      if (result.outcome === "not_found") {
        throw notFound("No guardian with this id is visible to you.");
      }
      if (result.outcome === "forbidden") {
        throw forbidden(
          "Only the streamer (for the guardians it invited) and the primary guardian revoke guardians.",
        );
      }
      const guardian = guardianFromJson(result.guardian!);
      await removeFromLiveRooms(
        guardian.streamer_id,
        [guardian.id],
        context.log,
      );
      return json({ guardian: toGuardian(guardian) });
    },
  });
}

interface InviteResult {
  outcome:
    | "created"
    | "unknown_user"
    | "rate_limited"
    | "primary_guardian_required"
    | "guardian_exists"
    | "guardian_limit";
  guardian: Record<string, unknown> | null;
  retry_after_seconds: number;
}

interface RegisterResult {
  outcome: "created" | "unchanged" | "unknown_streamer";
  guardian: Record<string, unknown> | null;
  revoked_ids: string[];
}

interface RevokeResult {
  outcome: "revoked" | "unchanged" | "forbidden" | "not_found";
  guardian: Record<string, unknown> | null;
}
