-- The LiveKit webhook's one dispatch. livekit-webhook verifies an event and reads it into a
-- typed input (readEvent in supabase/functions/livekit-webhook/events.ts); the `case` in
-- private.webhook_apply below is the one place that chooses what each event does, and it
-- answers with typed flags (emails_queued, restart_egress) beside an outcome that is only
-- logged. So "what does participant_joined do" is answered by events.ts and this file.
--
-- One rule in one place: the session's duration (private.session_duration, used by the recount
-- and by end-session) and the participant upsert (private.upsert_participant, used by every
-- participant event). And a participant_connection_aborted of a participant that never joined
-- counts no viewer; an auto egress that failed without an egress id fails the session's
-- recording with its reason in any order.
--
-- Defined in 20261201010000_webhook_statements.sql and unchanged here: private.act_as_service,
-- private.end_session_for, private.webhook_seen and private.webhook_record.

-- p_input, the event as readEvent read it (EventInput in events.ts):
--   { "participant": null | { "sid": text, "identity": text,
--                             "kind": "streamer" | "guardian" | "user",
--                             "userId"?: uuid, "guardianId"?: uuid },
--     "egress": null | EgressReportJson of shared/egress.ts
--               { "egressId": text ('' for a failed auto egress), "status": "pending" |
--                 "recording" | "processing" | "ready" | "failed", "truncated": boolean,
--                 "startedAt", "endedAt": timestamptz or null, "error": text or null,
--                 "objectPath": text or null, "sizeBytes", "durationSeconds": number or null },
--     "recordingConfigured": boolean }
-- "participant" is null unless the event names a connection of the streamer or a viewer (never
-- an egress or recorder participant); "recordingConfigured" says whether livekit-webhook has
-- a recording target, without which no egress is restarted.

-- Participants that never joined ----------------------------------------------------------------

alter table public.session_participants
  add column joined boolean not null default true;

comment on column public.session_participants.joined is
  'Whether LiveKit reported this connection as joined (participant_joined or participant_left). '
  'False while only its participant_connection_aborted is known: LiveKit sends that for a '
  'connection that never became active, which counts as no viewer. A participant_joined that '
  'arrives later makes it true.';

-- The session's duration -------------------------------------------------------------------------

create function private.session_duration(p_started_at timestamptz, p_ended_at timestamptz)
returns numeric
language sql
immutable
set search_path = ''
as $$
  select case when p_started_at is null or p_ended_at is null then null
    else greatest(0, extract(epoch from (p_ended_at - p_started_at))) end
$$;

comment on function private.session_duration(timestamptz, timestamptz) is
  'durationSeconds of the contract: from the streamer''s first join to the end, never negative; '
  'null if the streamer never joined or the session has not ended.';

-- Current, peak and total viewers and the duration, from the participant rows and times. Peak
-- is the most viewer connections overlapping at any instant, computed from the intervals, so
-- it does not depend on the order events arrived in. Connections that never joined are no
-- viewers.
create or replace function private.refresh_session_derived(p_session_id uuid, p_now timestamptz)
returns void
language plpgsql
volatile
set search_path = ''
as $$
begin
  with viewers as (
    select p.joined_at, p.left_at from public.session_participants p
     where p.session_id = p_session_id and p.kind = 'viewer' and p.joined
  ), edges as (
    select joined_at as at, 1 as delta from viewers
    union all
    select left_at, -1 from viewers where left_at is not null
  ), running as (
    select sum(delta) over (order by at, delta rows unbounded preceding) as open from edges
  ), derived as (
    select s.id,
           (select count(*) from viewers where left_at is null)::integer as current,
           greatest((select coalesce(max(open), 0) from running),
                    (select count(*) from viewers where left_at is null))::integer as peak,
           (select count(*) from viewers)::integer as total,
           private.session_duration(s.started_at, s.ended_at) as duration
      from public.stream_sessions s where s.id = p_session_id
  )
  -- Only when a figure changes: a streamer's join or leave changes none, and a row not
  -- rewritten costs no new version.
  update public.stream_sessions s
     set viewers_current = d.current, viewers_peak = d.peak, viewers_total = d.total,
         duration_seconds = d.duration, updated_at = p_now
    from derived d
   where s.id = d.id
     and (s.viewers_current, s.viewers_peak, s.viewers_total, s.duration_seconds)
         is distinct from (d.current, d.peak, d.total, d.duration);
end
$$;

-- As in 20261206010000_session_safety.sql's private.user_end_session, with the duration from
-- private.session_duration.
create or replace function private.user_end_session(
  p_claims text,
  p_session_id uuid,
  p_now timestamptz
)
returns table (outcome text, session jsonb)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_user uuid := (p_claims::jsonb ->> 'sub')::uuid;
  v_session private.session_listings;
begin
  if not exists (select 1 from auth.users u where u.id = v_user) then
    return query select 'unknown_user', null::jsonb;
    return;
  end if;
  perform private.act_as_service();
  select * into v_session from private.session_by_id(p_session_id);
  if v_session.id is null or (
    v_session.streamer_id <> v_user and not exists (
      select 1 from public.guardians g
       where g.streamer_id = v_session.streamer_id and g.user_id = v_user
         and g.status = 'active')
  ) then
    return query select 'not_found', null::jsonb;
    return;
  end if;
  if v_session.streamer_id <> v_user then
    return query select 'forbidden', null::jsonb;
    return;
  end if;
  if v_session.status <> 'ended' then
    update public.stream_sessions s
       set status = 'ended', end_reason = 'streamer_ended', ended_at = p_now,
           duration_seconds = private.session_duration(s.started_at, p_now),
           updated_at = p_now
     where s.id = p_session_id and s.streamer_id = v_user and s.status <> 'ended';
    select * into v_session from private.session_by_id(p_session_id);
  end if;
  return query select 'ended', to_jsonb(v_session);
end
$$;

-- The participant events -------------------------------------------------------------------------

-- The one upsert of a connection's row, for what one participant event says about it:
-- participant_joined gives p_joined_at (the earliest reported join wins), participant_left and
-- participant_connection_aborted give p_left_at (the earliest reported leave wins, never before
-- the join); p_joined is false only for an abort, which alone never makes a viewer. A leave
-- processed before its join creates the row with its leave time, and the join completes it.
-- Returns null when it wrote the row, or why it wrote nothing.
create function private.upsert_participant(
  p_session public.stream_sessions,
  p_participant jsonb,
  p_joined_at timestamptz,
  p_left_at timestamptz,
  p_joined boolean
)
returns text
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_streamer boolean := p_participant ->> 'kind' = 'streamer';
begin
  if jsonb_typeof(p_participant) is distinct from 'object' then
    return 'ignored: not the streamer or a viewer';
  end if;
  if v_streamer and (p_participant ->> 'userId')::uuid <> p_session.streamer_id then
    return 'ignored: another streamer''s identity';
  end if;
  insert into public.session_participants as p
    (session_id, participant_sid, identity, kind, guardian_id, joined_at, left_at, joined)
  values (p_session.id, p_participant ->> 'sid', p_participant ->> 'identity',
          case when v_streamer then 'streamer' else 'viewer' end,
          (select g.id from public.guardians g
            where g.id = (p_participant ->> 'guardianId')::uuid),
          coalesce(p_joined_at, p_left_at), p_left_at, p_joined)
  on conflict (session_id, participant_sid) do update
     set joined_at = least(p.joined_at, coalesce(p_joined_at, p.joined_at)),
         left_at = case when p_left_at is null then p.left_at
           else greatest(p.joined_at, least(coalesce(p.left_at, p_left_at), p_left_at)) end,
         joined = p.joined or p_joined;
  return null;
end
$$;


-- The participant functions of 20261201010000_webhook_statements.sql took a participant without
-- the processing time; these take both, and each recounts the session itself.
drop function private.webhook_participant_joined(public.stream_sessions, jsonb, timestamptz,
  timestamptz);
drop function private.webhook_participant_left(public.stream_sessions, jsonb, timestamptz);

-- participant_joined: opens (or completes) the connection's row; the streamer's earliest join
-- is the session's start and makes a starting session live. A join to an ended session is
-- closed at the end, unless its own leave says otherwise.
create function private.webhook_participant_joined(
  p_session public.stream_sessions,
  p_participant jsonb,
  p_at timestamptz,
  p_now timestamptz
)
returns text
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_ignored text;
begin
  v_ignored := private.upsert_participant(
    p_session => p_session, p_participant => p_participant,
    p_joined_at => p_at, p_left_at => null, p_joined => true);
  if v_ignored is not null then
    return v_ignored;
  end if;
  if p_session.status = 'ended' then
    update public.session_participants p set left_at = greatest(p_session.ended_at, p_at)
     where p.session_id = p_session.id and p.participant_sid = p_participant ->> 'sid'
       and p.left_at is null;
  end if;
  if p_participant ->> 'kind' = 'streamer' then
    update public.stream_sessions s
       set started_at = least(coalesce(s.started_at, p_at), p_at),
           status = case when s.status = 'starting' then 'live' else s.status end,
           updated_at = p_now
     where s.id = p_session.id;
  end if;
  perform private.refresh_session_derived(p_session.id, p_now);
  return case
    when p_participant ->> 'kind' <> 'streamer' then 'viewer joined'
    when p_session.status = 'starting' then 'session live'
    else 'streamer joined again' end;
end
$$;

-- participant_left: the connection's row gets its leave time (LiveKit sends it only for a
-- connection that had joined).
create function private.webhook_participant_left(
  p_session public.stream_sessions,
  p_participant jsonb,
  p_at timestamptz,
  p_now timestamptz
)
returns text
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_ignored text;
begin
  v_ignored := private.upsert_participant(
    p_session => p_session, p_participant => p_participant,
    p_joined_at => null, p_left_at => p_at, p_joined => true);
  if v_ignored is not null then
    return v_ignored;
  end if;
  perform private.refresh_session_derived(p_session.id, p_now);
  return case when p_participant ->> 'kind' = 'streamer' then 'streamer left'
    else 'viewer left' end;
end
$$;

-- participant_connection_aborted: LiveKit sends it for a connection that never became active,
-- so it records the leave time without making a viewer; if a participant_joined of the same
-- connection is processed (before or after), it counts as a connection that left.
create function private.webhook_participant_connection_aborted(
  p_session public.stream_sessions,
  p_participant jsonb,
  p_at timestamptz,
  p_now timestamptz
)
returns text
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_ignored text;
  v_joined boolean;
begin
  v_ignored := private.upsert_participant(
    p_session => p_session, p_participant => p_participant,
    p_joined_at => null, p_left_at => p_at, p_joined => false);
  if v_ignored is not null then
    return v_ignored;
  end if;
  perform private.refresh_session_derived(p_session.id, p_now);
  select p.joined into v_joined from public.session_participants p
   where p.session_id = p_session.id and p.participant_sid = p_participant ->> 'sid';
  return case
    when not v_joined then 'connection aborted before joining'
    when p_participant ->> 'kind' = 'streamer' then 'streamer left'
    else 'viewer left' end;
end
$$;

-- track_published ------------------------------------------------------------------------------

drop function private.webhook_track_published(uuid, jsonb);

-- Whether the streamer, publishing again while their session is live and recorded (and
-- livekit-webhook has a recording target), needs a new egress because none is recording them:
-- restart_egress, with the outcome to log. Only decides: livekit-webhook starts the egress with
-- LiveKit and records it (restartEgress in handler.ts), deciding again under the session's lock.
create function private.webhook_track_published(
  p_session_id uuid,
  p_input jsonb,
  out restart_egress boolean,
  out outcome text
)
language plpgsql
stable
set search_path = ''
as $$
declare
  v_session public.stream_sessions;
  v_participant jsonb := p_input -> 'participant';
begin
  restart_egress := false;
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
    restart_egress := true;
    outcome := 'egress to restart';
  end if;
end
$$;

-- Egress reports -------------------------------------------------------------------------------

-- Creates or moves forward the recording of one egress report (EgressReportJson of
-- shared/egress.ts): by egress id; a report of an egress not seen yet claims the session's
-- pending recording that has none. A report without an egress id is an auto egress that failed
-- before it had one: it fails the session's pending recording that no egress claimed, with its
-- reason; when a report with an id claimed that recording first, it keeps the failure as a
-- failed recording of its own (once per session), so both orders end in the same rows.
-- Returns created, updated or unchanged. The caller holds the session's row lock, which
-- serialises reports of one session.
create or replace function private.apply_egress_report(
  p_session_id uuid,
  p_streamer_id uuid,
  p_report jsonb,
  p_now timestamptz
)
returns text
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_rank constant jsonb :=
    '{"pending": 0, "recording": 1, "processing": 2, "ready": 3, "failed": 3, "deleted": 4}';
  v_egress_id text := coalesce(p_report ->> 'egressId', '');
  v_status text := p_report ->> 'status';
  v_truncated boolean := coalesce((p_report ->> 'truncated')::boolean, false);
  v_started_at timestamptz := (p_report ->> 'startedAt')::timestamptz;
  v_ended_at timestamptz := (p_report ->> 'endedAt')::timestamptz;
  v_error text := p_report ->> 'error';
  v_size bigint := (p_report ->> 'sizeBytes')::bigint;
  v_duration numeric := (p_report ->> 'durationSeconds')::numeric;
  v_path text := p_report ->> 'objectPath';
  v_id uuid;
  v_current text;
  v_created boolean := false;
  v_ready_at timestamptz;
  v_changed integer;
begin
  if v_egress_id = '' then
    if v_status is distinct from 'failed' then
      return 'unchanged';
    end if;
    update public.recordings r
       set status = 'failed', error = v_error, updated_at = p_now
     where r.session_id = p_session_id and r.source = 'egress' and r.egress_id is null
       and r.status = 'pending';
    if found then
      return 'updated';
    end if;
    insert into public.recordings
      (session_id, streamer_id, source, status, error, content_type, created_at, updated_at)
    select s.id, s.streamer_id, 'egress', 'failed', v_error, 'video/mp4', p_now, p_now
      from public.stream_sessions s
     where s.id = p_session_id and s.record
       and not exists (select 1 from public.recordings r
                        where r.session_id = p_session_id and r.source = 'egress'
                          and r.egress_id is null);
    return case when found then 'created' else 'unchanged' end;
  end if;

  select r.id, r.status into v_id, v_current
    from public.recordings r where r.egress_id = v_egress_id for update;
  if v_id is null then
    update public.recordings r set egress_id = v_egress_id, updated_at = p_now
     where r.id = (select p.id from public.recordings p
                    where p.session_id = p_session_id and p.source = 'egress'
                      and p.egress_id is null and p.status = 'pending'
                    order by p.created_at limit 1)
    returning r.id, r.status into v_id, v_current;
  end if;
  if v_id is null then
    insert into public.recordings
      (session_id, streamer_id, source, status, egress_id, content_type, created_at, updated_at)
    values (p_session_id, p_streamer_id, 'egress', 'pending', v_egress_id, 'video/mp4',
            coalesce(v_started_at, p_now), p_now)
    returning id, status into v_id, v_current;
    v_created := true;
  end if;

  -- Only forward, or the same status again with more details.
  if (v_rank ->> v_status)::int < (v_rank ->> v_current)::int
     or ((v_rank ->> v_status)::int = (v_rank ->> v_current)::int and v_status <> v_current) then
    return case when v_created then 'created' else 'unchanged' end;
  end if;
  v_ready_at := case when v_status = 'ready' then coalesce(v_ended_at, p_now) end;
  -- Object paths LiveKit reports outside the session's prefix (recordingPrefix in
  -- shared/egress.ts, where egress is told where to write) are not trusted as ours.
  if not starts_with(coalesce(v_path, ''),
                     'recordings/' || p_streamer_id || '/' || p_session_id || '/') then
    v_path := null;
  end if;
  update public.recordings r
     set status = v_status,
         started_at = least(coalesce(r.started_at, v_started_at), v_started_at),
         ready_at = coalesce(r.ready_at, v_ready_at),
         object_path = coalesce(v_path, r.object_path),
         size_bytes = coalesce(v_size, r.size_bytes),
         duration_seconds = coalesce(v_duration, r.duration_seconds),
         truncated = r.truncated or v_truncated,
         error = coalesce(v_error, r.error),
         updated_at = p_now
   where r.id = v_id
     and (r.status is distinct from v_status
          or r.object_path is distinct from coalesce(v_path, r.object_path)
          or r.size_bytes is distinct from coalesce(v_size, r.size_bytes)
          or r.duration_seconds is distinct from coalesce(v_duration, r.duration_seconds)
          or r.started_at is distinct from least(coalesce(r.started_at, v_started_at), v_started_at)
          or r.truncated is distinct from (r.truncated or v_truncated)
          or r.error is distinct from coalesce(v_error, r.error));
  get diagnostics v_changed = row_count;
  if v_created then
    return 'created';
  end if;
  return case when v_changed > 0 then 'updated' else 'unchanged' end;
end
$$;

-- The one dispatch ---------------------------------------------------------------------------

drop function private.webhook_apply(text, text, text, jsonb, timestamptz, timestamptz, jsonb);

-- One event, whole, in one statement: the service role, the session's row lock, the ledger
-- check, the event's effect (the `case` below: the one place that chooses it, from p_input as
-- readEvent read it), and the ledger's outcome. Returns the outcome (for logs only, never for
-- control flow), emails_queued (the event queued emails for this session: livekit-webhook asks
-- for the outbox to be drained) and restart_egress (the streamer must be recorded again: the
-- event is not recorded here, livekit-webhook does it with LiveKit's answer). A duplicate is
-- outcome 'duplicate' with both flags false.
create function private.webhook_apply(
  p_id text,
  p_event text,
  p_room text,
  p_payload jsonb,
  p_at timestamptz,
  p_now timestamptz,
  p_input jsonb
)
returns table (outcome text, emails_queued boolean, restart_egress boolean)
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
    return query select 'duplicate'::text, false, false;
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
        select d.restart_egress, d.outcome into v_decision
          from private.webhook_track_published(v_session.id, p_input) d;
        if v_decision.restart_egress then
          return query select v_decision.outcome, false, true;
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
      return query select 'duplicate'::text, false, false;
      return;
    end if;
    raise exception 'Event % was recorded by a concurrent delivery', p_id
      using errcode = 'serialization_failure';
  end if;
  return query select v_outcome, v_queued, false;
end
$$;

comment on function private.webhook_apply(text, text, text, jsonb, timestamptz, timestamptz, jsonb) is
  'Applies one verified LiveKit webhook event exactly once, as service_role, in one statement; '
  'its case is the one dispatch of events. Returns (outcome, emails_queued, restart_egress); '
  'outcome is duplicate for an event seen before. Owner only.';

-- Privileges: webhook_apply is the owner's; what it calls after becoming service_role, and
-- what reconcile, end-session and restartEgress call inside a service transaction, is
-- service_role's.
revoke all on function private.session_duration(timestamptz, timestamptz) from public;
revoke all on function private.upsert_participant(public.stream_sessions, jsonb, timestamptz,
  timestamptz, boolean) from public;
revoke all on function private.webhook_participant_joined(public.stream_sessions, jsonb,
  timestamptz, timestamptz) from public;
revoke all on function private.webhook_participant_left(public.stream_sessions, jsonb,
  timestamptz, timestamptz) from public;
revoke all on function private.webhook_participant_connection_aborted(public.stream_sessions,
  jsonb, timestamptz, timestamptz) from public;
revoke all on function private.webhook_track_published(uuid, jsonb) from public;
revoke all on function private.webhook_apply(text, text, text, jsonb, timestamptz, timestamptz,
  jsonb) from public;
grant execute on function private.session_duration(timestamptz, timestamptz) to service_role;
grant execute on function private.upsert_participant(public.stream_sessions, jsonb, timestamptz,
  timestamptz, boolean) to service_role;
grant execute on function private.webhook_participant_joined(public.stream_sessions, jsonb,
  timestamptz, timestamptz) to service_role;
grant execute on function private.webhook_participant_left(public.stream_sessions, jsonb,
  timestamptz, timestamptz) to service_role;
grant execute on function private.webhook_participant_connection_aborted(public.stream_sessions,
  jsonb, timestamptz, timestamptz) to service_role;
grant execute on function private.webhook_track_published(uuid, jsonb) to service_role;
