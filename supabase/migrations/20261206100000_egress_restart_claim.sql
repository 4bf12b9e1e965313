-- A reconnected streamer's egress restart with no database transaction open across LiveKit's
-- StartParticipantEgress. Three short steps (restartEgress in
-- supabase/functions/livekit-webhook/handler.ts):
--
-- 1. private.webhook_apply (redefined here) decides, under the session's row lock, that the
--    streamer must be recorded again, and claims the restart for its event in
--    private.egress_restart_claims (one claim per session, with an expiry); the statement
--    commits. The event is not in the ledger yet.
-- 2. livekit-webhook calls LiveKit, outside any transaction.
-- 3. private.webhook_egress_restarted records the egress as its first report would, drops the
--    claim and records the event; or, when LiveKit failed or refused,
--    private.webhook_release_egress_claim drops the claim and the webhook answers 5xx, so that
--    LiveKit's retry claims again.
--
-- While a claim holds, no other event restarts the session's egress: the video and audio
-- track_published of one reconnection start one egress. A process that dies between the steps
-- leaves a claim that expires: the next track_published may claim again, egress webhooks record
-- an egress that did start, and reconcile's ListEgress refresh (refreshStuckRecordings in
-- supabase/functions/reconcile/sweeps.ts) visits rooms with an expired claim, records what
-- LiveKit reports and drops the claim.
--
-- private.webhook_seen, private.webhook_record (20261201010000_webhook_statements.sql) and
-- private.apply_egress_report (20261206070000_webhook_one_dispatch.sql) are unchanged.

-- The claims ------------------------------------------------------------------------------------

create table private.egress_restart_claims (
  session_id uuid not null,
  event_id text not null,
  claimed_at timestamptz not null,
  expires_at timestamptz not null,
  constraint egress_restart_claims_pkey primary key (session_id),
  constraint egress_restart_claims_session_id_fkey foreign key (session_id)
    references public.stream_sessions (id) on delete cascade,
  constraint egress_restart_claims_event_id_length check (char_length(event_id) between 1 and 256),
  constraint egress_restart_claims_expiry_check check (expires_at > claimed_at)
);

comment on table private.egress_restart_claims is
  'The egress restart livekit-webhook is making for a session, by the track_published event '
  'that claimed it, while LiveKit is asked outside any transaction: taken by '
  'private.webhook_track_published, dropped by private.webhook_egress_restarted or '
  'private.webhook_release_egress_claim, or by reconcile once expired. service_role only; '
  'never exposed through the Data API.';

alter table private.egress_restart_claims enable row level security;
revoke all on table private.egress_restart_claims from public, anon, authenticated, service_role;
grant select, insert, update, delete on table private.egress_restart_claims to service_role;

-- track_published ------------------------------------------------------------------------------

drop function private.webhook_track_published(uuid, jsonb);

-- Whether the streamer, publishing again while their session is live and recorded (and
-- livekit-webhook has a recording target), needs a new egress because none is recording them;
-- if so, claims the restart for p_event_id (restart_egress). The claim is taken only when no
-- other unexpired claim holds the session; it lasts 3 minutes, longer than livekit-webhook's
-- LiveKit calls of a restart (ListEgress and StartParticipantEgress, each bounded by
-- LIVEKIT_TIMEOUT_SECONDS, at most 60 s in shared/kernel/env.ts). claimed_by_this_event: another
-- delivery of the same event holds the claim and will record the event. The caller holds the
-- session's row lock.
create function private.webhook_track_published(
  p_session_id uuid,
  p_input jsonb,
  p_event_id text,
  p_now timestamptz,
  out restart_egress boolean,
  out claimed_by_this_event boolean,
  out outcome text
)
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_session public.stream_sessions;
  v_participant jsonb := p_input -> 'participant';
  v_holder text;
begin
  restart_egress := false;
  claimed_by_this_event := false;
  select * into v_session from public.stream_sessions s where s.id = p_session_id;
  if v_participant ->> 'kind' is distinct from 'streamer'
     or (v_participant ->> 'userId')::uuid <> v_session.streamer_id then
    outcome := 'ignored: not the streamer';
  elsif v_session.status <> 'live' or not v_session.record
     or not coalesce((p_input ->> 'recordingConfigured')::boolean, false) then
    outcome := 'ignored: session not live and recorded';
  elsif exists (select 1 from public.recordings r
                 where r.session_id = p_session_id and r.source = 'egress'
                   and r.status in ('pending', 'recording')) then
    outcome := 'egress already recording';
  else
    insert into private.egress_restart_claims as c (session_id, event_id, claimed_at, expires_at)
    values (p_session_id, p_event_id, p_now, p_now + interval '3 minutes')
    on conflict (session_id) do update
       set event_id = excluded.event_id, claimed_at = excluded.claimed_at,
           expires_at = excluded.expires_at
     where c.expires_at <= p_now;
    if found then
      restart_egress := true;
      outcome := 'egress to restart';
    else
      select c.event_id into v_holder
        from private.egress_restart_claims c where c.session_id = p_session_id;
      claimed_by_this_event := v_holder is not distinct from p_event_id;
      outcome := 'egress restart already claimed';
    end if;
  end if;
end
$$;

-- The one dispatch -----------------------------------------------------------------------------

drop function private.webhook_apply(text, text, text, jsonb, timestamptz, timestamptz, jsonb);

-- As in 20261206070000_webhook_one_dispatch.sql, with the restart claimed (see the top of this
-- file) and the event's session named in the answer: session_id and streamer_id (null for a room
-- no session has), which livekit-webhook needs to ask LiveKit for the egress. restart_egress
-- now means the event holds the session's restart claim; an event whose other delivery holds it
-- is a 'duplicate' that this delivery does not record.
create function private.webhook_apply(
  p_id text,
  p_event text,
  p_room text,
  p_payload jsonb,
  p_at timestamptz,
  p_now timestamptz,
  p_input jsonb
)
returns table (
  outcome text,
  emails_queued boolean,
  restart_egress boolean,
  session_id uuid,
  streamer_id uuid
)
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_started timestamptz := clock_timestamp();
  v_session public.stream_sessions;
  v_participant jsonb := p_input -> 'participant';
  v_egress jsonb := p_input -> 'egress';
  v_outcome text;
  v_queued_before integer;
  v_queued boolean := false;
  v_decision record;
begin
  perform private.act_as_service();
  if p_room is not null then
    select * into v_session from public.stream_sessions s where s.room_name = p_room for update;
  end if;
  if private.webhook_seen(p_id) then
    return query select 'duplicate'::text, false, false, v_session.id, v_session.streamer_id;
    return;
  end if;
  if v_session.id is null then
    v_outcome := 'ignored: no session has this room';
  else
    -- Emails are queued by triggers (20261122020000_notification_triggers.sql's
    -- stream_sessions_queue_notifications and recordings_queue_notifications), so whether this
    -- event queued any is read from the outbox, not guessed from what it did.
    select count(*) into v_queued_before from public.notification_outbox o
     where o.session_id = v_session.id;
    case p_event
      when 'participant_joined' then
        v_outcome := private.webhook_participant_joined(v_session, v_participant, p_at, p_now);
      when 'participant_left' then
        v_outcome := private.webhook_participant_left(v_session, v_participant, p_at, p_now);
      when 'participant_connection_aborted' then
        v_outcome := private.webhook_participant_connection_aborted(
          v_session, v_participant, p_at, p_now);
      when 'room_finished' then
        v_outcome := case
          when private.end_session_for(p_session_id => v_session.id, p_reason => 'room_finished',
                                       p_at => p_at, p_now => p_now)
            then 'session ended'
          else 'closed participants of an ended session' end;
      when 'track_published' then
        select d.restart_egress, d.claimed_by_this_event, d.outcome into v_decision
          from private.webhook_track_published(p_session_id => v_session.id, p_input => p_input,
                                               p_event_id => p_id, p_now => p_now) d;
        if v_decision.restart_egress then
          return query select v_decision.outcome, false, true, v_session.id,
                              v_session.streamer_id;
          return;
        end if;
        if v_decision.claimed_by_this_event then
          return query select 'duplicate'::text, false, false, v_session.id,
                              v_session.streamer_id;
          return;
        end if;
        v_outcome := v_decision.outcome;
      when 'egress_started', 'egress_updated', 'egress_ended' then
        if jsonb_typeof(v_egress) is distinct from 'object' then
          v_outcome := 'ignored: no egress info';
        else
          v_outcome := format('recording %s (%s)',
            private.apply_egress_report(p_session_id => v_session.id,
                                        p_streamer_id => v_session.streamer_id,
                                        p_report => v_egress, p_now => p_now),
            v_egress ->> 'status');
        end if;
      else
        v_outcome := format('ignored: %s changes nothing here', p_event);
    end case;
    v_queued := (select count(*) from public.notification_outbox o
                  where o.session_id = v_session.id) > v_queued_before;
  end if;
  if not private.webhook_record(p_id => p_id, p_event => p_event, p_room => p_room,
                                p_payload => p_payload, p_now => p_now,
                                p_started => v_started) then
    -- Only deliveries that changed nothing run unlocked; one that did would be undone here.
    if v_session.id is null then
      return query select 'duplicate'::text, false, false, null::uuid, null::uuid;
      return;
    end if;
    raise exception 'Event % was recorded by a concurrent delivery', p_id
      using errcode = 'serialization_failure';
  end if;
  return query select v_outcome, v_queued, false, v_session.id, v_session.streamer_id;
end
$$;

comment on function private.webhook_apply(text, text, text, jsonb, timestamptz, timestamptz, jsonb) is
  'Applies one verified LiveKit webhook event exactly once, as service_role, in one statement; '
  'its case is the one dispatch of events. Returns (outcome, emails_queued, restart_egress, '
  'session_id, streamer_id); restart_egress: the event claimed the session''s egress restart '
  '(private.egress_restart_claims) and livekit-webhook records it. outcome is duplicate for an '
  'event seen before. Owner only.';

-- The restart's last step -------------------------------------------------------------------------

-- After LiveKit started egress p_egress_id for the event p_id that claimed the restart: under the
-- session's row lock, the new recording as the egress's first report would create it
-- (private.apply_egress_report; a report of that egress that arrived first already did), the
-- claim dropped, and the event recorded in the ledger. A concurrent delivery of the event may
-- have recorded it first: the egress is real either way, so nothing is undone. Returns the
-- outcome to log.
create function private.webhook_egress_restarted(
  p_id text,
  p_event text,
  p_room text,
  p_payload jsonb,
  p_now timestamptz,
  p_started timestamptz,
  p_egress_id text
)
returns text
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_session public.stream_sessions;
begin
  perform private.act_as_service();
  select * into v_session from public.stream_sessions s where s.room_name = p_room for update;
  if v_session.id is not null then
    perform private.apply_egress_report(
      p_session_id => v_session.id, p_streamer_id => v_session.streamer_id,
      p_report => jsonb_build_object(
        'egressId', p_egress_id, 'status', 'pending', 'truncated', false, 'startedAt', null,
        'endedAt', null, 'error', null, 'objectPath', null, 'sizeBytes', null,
        'durationSeconds', null),
      p_now => p_now);
    delete from private.egress_restart_claims c
     where c.session_id = v_session.id and c.event_id = p_id;
  end if;
  perform private.webhook_record(p_id => p_id, p_event => p_event, p_room => p_room,
                                 p_payload => p_payload, p_now => p_now, p_started => p_started);
  return 'egress restarted';
end
$$;

comment on function private.webhook_egress_restarted(text, text, text, jsonb, timestamptz,
  timestamptz, text) is
  'livekit-webhook''s last step of an egress restart (restartEgress in handler.ts): records the '
  'egress LiveKit started, drops the event''s claim and records the event. Owner only.';

-- Drops the restart claim of p_event_id on p_session_id, when LiveKit failed or refused to start
-- the egress: LiveKit's retry of the event (answered 5xx) claims again. True when it dropped one.
create function private.webhook_release_egress_claim(p_session_id uuid, p_event_id text)
returns boolean
language sql
volatile
set search_path = ''
as $$
  with released as (
    delete from private.egress_restart_claims c
     where c.session_id = p_session_id and c.event_id = p_event_id
    returning 1
  )
  select exists (select 1 from released)
$$;

comment on function private.webhook_release_egress_claim(uuid, text) is
  'Releases the egress restart claim an event holds, when LiveKit failed or refused to start the '
  'egress (restartEgress in supabase/functions/livekit-webhook/handler.ts). Owner only.';

-- Privileges: webhook_apply, webhook_egress_restarted and webhook_release_egress_claim are the
-- owner's; webhook_track_published runs inside webhook_apply after it became service_role.
revoke all on function private.webhook_track_published(uuid, jsonb, text, timestamptz)
  from public;
grant execute on function private.webhook_track_published(uuid, jsonb, text, timestamptz)
  to service_role;
revoke all on function private.webhook_apply(text, text, text, jsonb, timestamptz, timestamptz,
  jsonb) from public, anon, authenticated, service_role;
revoke all on function private.webhook_egress_restarted(text, text, text, jsonb, timestamptz,
  timestamptz, text) from public, anon, authenticated, service_role;
revoke all on function private.webhook_release_egress_claim(uuid, text)
  from public, anon, authenticated, service_role;
