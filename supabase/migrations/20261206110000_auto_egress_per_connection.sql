-- LiveKit records every new connection of the streamer by itself; livekit-webhook restarts
-- egress only for a connection that stays and publishes again after its egress ended.
--
-- What LiveKit does (livekit-server v1.13.5, pkg/rtc/room.go): a room created with participant
-- auto egress starts one on a participant's first publish, remembered per identity in
-- hasPublished, and Room.RemoveParticipant deletes that entry when the participant leaves (and
-- when a second connection with the same identity replaces it, DUPLICATE_IDENTITY). So a
-- streamer who drops and rejoins is a new connection (a new participant SID) whose first publish
-- LiveKit records again. The webhook used to restart egress on any track_published that found
-- nothing recording, which on a rejoin raced LiveKit's own auto egress (whose first report comes
-- a second or so after the publish) and left two egresses recording one streamer.
--
-- Now private.webhook_track_published (called by the one dispatch, private.webhook_apply's case,
-- redefined here only to pass it the event's time) marks the connection as published
-- (session_participants.published) and claims a restart only when all of these hold:
--   - the session is live and recorded, and livekit-webhook has a recording target;
--   - no egress of the session is pending or recording;
--   - this connection had published before: on a connection's first publish the room's auto
--     egress starts one (start-session creates every session's room with it, before any grant
--     exists, and a room LiveKit would recreate later comes after room_finished ended the
--     session), so the webhook never starts one then;
--   - every auto egress LiveKit started has reported: there are at least as many egress
--     recordings that are not the webhook's own restarts (private.egress_restarts) as streamer
--     connections that published. Otherwise the auto egress of a connection that just published
--     (the video track's, say, while this is the audio track's) is still on its way, and it will
--     record this streamer: LiveKit's egress follows the identity.
-- So a restart happens only when the same connection publishes again after the egress that
-- recorded it ended while it stayed (egress ends by itself when its participant leaves; it
-- ends while the participant stays when it fails or reaches its limit). Decisions depend on what
-- was known when the event was applied; each way of being wrong starts no second egress.
--
-- private.webhook_egress_restarted (redefined here) also notes its egress in
-- private.egress_restarts. An egress that reconcile recorded for a process that died mid-restart
-- is not noted, so it counts as an auto egress: at worst that allows one restart early.

-- Which streamer connections published -----------------------------------------------------------

alter table public.session_participants
  add column published boolean not null default false;

comment on column public.session_participants.published is
  'Whether LiveKit reported a track_published of this streamer connection (set by '
  'private.webhook_track_published). LiveKit''s room auto egress starts one egress on each '
  'connection''s first publish; livekit-webhook restarts egress only for a connection that '
  'had published before.';

-- The webhook's own egresses -----------------------------------------------------------------------

create table private.egress_restarts (
  egress_id text not null,
  session_id uuid not null,
  restarted_at timestamptz not null,
  constraint egress_restarts_pkey primary key (egress_id),
  constraint egress_restarts_session_id_fkey foreign key (session_id)
    references public.stream_sessions (id) on delete cascade,
  constraint egress_restarts_egress_id_length check (char_length(egress_id) between 1 and 256)
);

comment on table private.egress_restarts is
  'Egresses that livekit-webhook started itself (restartEgress in '
  'supabase/functions/livekit-webhook/handler.ts), as opposed to those the room''s auto egress '
  'started: written by private.webhook_egress_restarted, read by '
  'private.webhook_track_published to tell whether every auto egress has reported. '
  'service_role only; never exposed through the Data API.';

create index egress_restarts_session_id_idx on private.egress_restarts (session_id);

alter table private.egress_restarts enable row level security;
revoke all on table private.egress_restarts from public, anon, authenticated, service_role;
grant select, insert, update, delete on table private.egress_restarts to service_role;

-- track_published ------------------------------------------------------------------------------

drop function private.webhook_track_published(uuid, jsonb, text, timestamptz);

-- The answers of 20261206100000_egress_restart_claim.sql's version; it also takes the event's
-- time (p_at) now. The rule is at the top of this file. The streamer's connection row is kept as
-- participant_joined keeps it (private.upsert_participant at the event's time; on an ended
-- session closed at the end), so a track_published that arrives before its participant_joined
-- still marks the connection. The caller holds the session's row lock, which serialises the
-- events of one session.
create function private.webhook_track_published(
  p_session_id uuid,
  p_input jsonb,
  p_event_id text,
  p_at timestamptz,
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
  v_sid text := v_participant ->> 'sid';
  v_published_before boolean;
  v_connections integer;
  v_auto_reports integer;
  v_holder text;
begin
  restart_egress := false;
  claimed_by_this_event := false;
  select * into v_session from public.stream_sessions s where s.id = p_session_id;
  if v_participant ->> 'kind' is distinct from 'streamer'
     or (v_participant ->> 'userId')::uuid <> v_session.streamer_id then
    outcome := 'ignored: not the streamer';
    return;
  end if;

  select p.published into v_published_before from public.session_participants p
   where p.session_id = p_session_id and p.participant_sid = v_sid;
  v_published_before := coalesce(v_published_before, false);
  perform private.upsert_participant(
    p_session => v_session, p_participant => v_participant,
    p_joined_at => p_at, p_left_at => null, p_joined => true);
  update public.session_participants p
     set published = true,
         left_at = case when v_session.status = 'ended' and p.left_at is null
           then greatest(v_session.ended_at, p.joined_at) else p.left_at end
   where p.session_id = p_session_id and p.participant_sid = v_sid;

  if v_session.status <> 'live' or not v_session.record
     or not coalesce((p_input ->> 'recordingConfigured')::boolean, false) then
    outcome := 'ignored: session not live and recorded';
    return;
  end if;
  if exists (select 1 from public.recordings r
              where r.session_id = p_session_id and r.source = 'egress'
                and r.status in ('pending', 'recording')) then
    outcome := 'egress already recording';
    return;
  end if;
  if not v_published_before then
    outcome := 'first publish of this connection: the room''s auto egress records it';
    return;
  end if;
  select count(*) into v_connections from public.session_participants p
   where p.session_id = p_session_id and p.kind = 'streamer' and p.published;
  select count(*) into v_auto_reports from public.recordings r
   where r.session_id = p_session_id and r.source = 'egress'
     and ((r.egress_id is null and r.status = 'failed')
          or (r.egress_id is not null
              and not exists (select 1 from private.egress_restarts x
                               where x.egress_id = r.egress_id)));
  if v_auto_reports < v_connections then
    outcome := 'an auto egress has not reported yet';
    return;
  end if;

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
end
$$;

comment on function private.webhook_track_published(uuid, jsonb, text, timestamptz,
  timestamptz) is
  'track_published in private.webhook_apply''s case: marks the streamer''s connection as '
  'published and claims an egress restart only for a connection that published before, when '
  'nothing records the session and every auto egress has reported '
  '(20261206110000_auto_egress_per_connection.sql). service_role, inside webhook_apply.';

-- The one dispatch ------------------------------------------------------------------------------

-- As in 20261206100000_egress_restart_claim.sql, with the event's time passed to
-- private.webhook_track_published.
create or replace function private.webhook_apply(
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
                                               p_event_id => p_id, p_at => p_at,
                                               p_now => p_now) d;
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

-- The restart's last step -------------------------------------------------------------------------

-- As in 20261206100000_egress_restart_claim.sql, and the egress is noted as the webhook's own in
-- private.egress_restarts.
create or replace function private.webhook_egress_restarted(
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
    insert into private.egress_restarts (egress_id, session_id, restarted_at)
    values (p_egress_id, v_session.id, p_now)
    on conflict (egress_id) do nothing;
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
  'egress LiveKit started and notes it as the webhook''s own (private.egress_restarts), drops '
  'the event''s claim and records the event. Owner only.';

-- Privileges as before: webhook_apply and webhook_egress_restarted are the owner's;
-- webhook_track_published runs inside webhook_apply after it became service_role.
revoke all on function private.webhook_track_published(uuid, jsonb, text, timestamptz,
  timestamptz) from public;
grant execute on function private.webhook_track_published(uuid, jsonb, text, timestamptz,
  timestamptz) to service_role;
revoke all on function private.webhook_apply(text, text, text, jsonb, timestamptz, timestamptz,
  jsonb) from public, anon, authenticated, service_role;
revoke all on function private.webhook_egress_restarted(text, text, text, jsonb, timestamptz,
  timestamptz, text) from public, anon, authenticated, service_role;
