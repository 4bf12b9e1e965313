/**
 * `track_published`: a streamer who publishes while their session is live and recorded, but
 * no egress is recording them (it ended when they dropped), is recorded again with a new
 * participant egress. Whether that is needed is decided in one statement; only then does a
 * transaction hold the session while LiveKit starts the egress.
 */
import { parseIdentity, startStreamerEgress } from "../../../../shared/livekit.ts";
import type { EventHandler } from "./types.ts";

/** `private.webhook_track_published`'s answer when a new egress must start. */
const EGRESS_NEEDED = "egress needed";

export const trackPublished: EventHandler = async (event, context) => {
  const who = parseIdentity(event.participant?.identity ?? "");
  const effect = { ...who, recordingConfigured: !!context.recording };
  const decided = await context.apply(effect);
  if (decided !== EGRESS_NEEDED || !context.recording) return decided;
  const recording = context.recording;
  return await context.transaction(async (tx, session) => {
    // Decided again under this transaction's lock: another delivery may have restarted it.
    const [{ decision }] = await tx<{ decision: string }[]>`
      select private.webhook_track_published(${session.id}, ${tx.json(effect)}) as decision`;
    if (decision !== EGRESS_NEEDED) return decision;
    const egressId = await startStreamerEgress(context.livekit, {
      sessionId: session.id,
      streamerId: session.streamer_id,
      recording,
    });
    await tx`
      insert into public.recordings
        (session_id, streamer_id, source, status, egress_id, content_type, created_at, updated_at)
      values (${session.id}, ${session.streamer_id}, 'egress', 'pending', ${egressId}, 'video/mp4',
              ${context.now}, ${context.now})
      on conflict (egress_id) do nothing`;
    return "egress restarted";
  });
};
