/**
 * Guardians as the contract shows them, and the consent and preferences links that name one.
 * A link is only as good as its guardian row: a revoked (or deleted) guardian's links fail at
 * once, whatever their expiry.
 */
import type { Database, Tx } from "./db.ts";
import { invalidLink, type LinkSigner } from "./link.ts";

/** A `guardians` row. */
export interface GuardianRow {
  id: string;
  streamer_id: string;
  email: string;
  name: string | null;
  status: "pending" | "active" | "revoked";
  notify_stream_started: boolean;
  notify_stream_ended: boolean;
  notify_recording_ready: boolean;
  created_at: Date;
}

/** The per-kind email choices, as the contract names them. */
export interface NotifyChoices {
  streamStarted: boolean;
  streamEnded: boolean;
  recordingReady: boolean;
}

/** The contract's Guardian object. */
export function toGuardian(row: GuardianRow) {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    status: row.status,
    notify: {
      streamStarted: row.notify_stream_started,
      streamEnded: row.notify_stream_ended,
      recordingReady: row.notify_recording_ready,
    },
    createdAt: row.created_at.toISOString(),
  };
}

/** `select … from public.guardians g` with the columns of {@linkcode GuardianRow}. */
export function selectGuardians(tx: Tx) {
  return tx`
    select g.id, g.streamer_id, g.email, g.name, g.status, g.notify_stream_started,
           g.notify_stream_ended, g.notify_recording_ready, g.created_at
      from public.guardians g`;
}

/** One guardian visible in this transaction, or undefined. */
export async function findGuardian(tx: Tx, guardianId: string): Promise<GuardianRow | undefined> {
  const [row] = await tx<GuardianRow[]>`${selectGuardians(tx)} where g.id = ${guardianId}`;
  return row;
}

/**
 * The guardian a consent or preferences link names, or `401 invalid_link` when the token is
 * bad, expired, of another type, or its guardian is revoked or gone. Both links are about the
 * guardian itself, so their object is the guardian's id too.
 */
export async function resolveGuardianLink(
  db: Database,
  signer: LinkSigner,
  token: string,
  type: "consent" | "preferences",
): Promise<GuardianRow> {
  const link = await signer.verify(token, type);
  if (link.objectId !== link.guardianId) throw invalidLink();
  const guardian = await db.asService((tx) => findGuardian(tx, link.guardianId));
  if (!guardian || guardian.status === "revoked") throw invalidLink();
  return guardian;
}
