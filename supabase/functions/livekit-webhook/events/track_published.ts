/**
 * `track_published`: a streamer who publishes while their session is live and recorded, but
 * no egress is recording them (it ended when they dropped), is recorded again with a new
 * participant egress.
 */
import { startStreamerEgress, streamerIdentity } from "../../../../shared/livekit.ts";
import type { EventHandler } from "./types.ts";

export const trackPublished: EventHandler = async (event, context) => {
  const { tx, session, now } = context;
  if (event.participant?.identity !== streamerIdentity(session.streamer_id)) {
    return "ignored: not the streamer";
  }
  if (session.status !== "live" || !session.record || !context.recording) {
    return "ignored: session not live and recorded";
  }
  const [active] = await tx`
    select 1 from public.recordings
     where session_id = ${session.id} and source = 'egress' and status in ('pending', 'recording')
     limit 1`;
  if (active) return "egress already recording";
  const egressId = await startStreamerEgress(context.livekit, {
    sessionId: session.id,
    streamerId: session.streamer_id,
    recording: context.recording,
  });
  await tx`
    insert into public.recordings
      (session_id, streamer_id, source, status, egress_id, content_type, created_at, updated_at)
    values (${session.id}, ${session.streamer_id}, 'egress', 'pending', ${egressId}, 'video/mp4',
            ${now}, ${now})
    on conflict (egress_id) do nothing`;
  return "egress restarted";
};
