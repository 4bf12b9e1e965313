/** Watch links: a signed link to one session for one guardian, valid while they are active. */
import type { Database } from "./kernel/db.ts";
import { bindGuardianAccount } from "./guardians.ts";
import { invalidLink, type LinkSigner } from "./kernel/link.ts";
import { findSession, type SessionRow } from "./sessions.ts";

/** The guardian and session a valid watch link opens. */
export interface WatchAccess {
  guardian: { id: string; name: string | null };
  session: SessionRow;
  /** Whether the signed-in account of {@linkcode ResolveWatchLinkOptions.userId} is bound now. */
  bound: boolean;
}

/** Options of {@linkcode resolveWatchLink}. */
export interface ResolveWatchLinkOptions {
  /** Verifies the link token. */
  signer: LinkSigner;
  /** The watch link token the caller presented. */
  token: string;
  /**
   * The signed-in account that presented the link with its bearer token (verified by the
   * caller): rights follow proof, so this binds the guardian to that account
   * (`private.guardian_bind_account`) when it has none yet. Leave it out for a link alone.
   * @default {no account: nothing is bound}
   */
  userId?: string;
}

/**
 * Resolves a watch link, or `401 invalid_link` when it is bad, expired, its guardian is no
 * longer active, or the session is not theirs to watch.
 */
export async function resolveWatchLink(
  db: Database,
  options: ResolveWatchLinkOptions,
): Promise<WatchAccess> {
  const link = await options.signer.verify(options.token, "watch");
  const access = await db.asService(async (tx) => {
    const [guardian] = await tx<
      { id: string; name: string | null; streamer_id: string }[]
    >`
      select id, name, streamer_id from public.guardians
       where id = ${link.guardianId} and status = 'active'`;
    if (!guardian) return undefined;
    const session = await findSession(tx, link.objectId);
    if (!session || session.streamer_id !== guardian.streamer_id) {
      return undefined;
    }
    return { guardian: { id: guardian.id, name: guardian.name }, session };
  });
  if (!access) throw invalidLink();
  const bound = options.userId === undefined ? false : await bindGuardianAccount(db, {
    guardianId: access.guardian.id,
    userId: options.userId,
  });
  return { ...access, bound };
}
