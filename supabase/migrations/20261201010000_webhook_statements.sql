-- The LiveKit webhook's effects as SQL, so that an event is one statement: the session's row
-- lock, the ledger check, the event's effect, the recount and the ledger's outcome, in the
-- statement's own transaction (two round trips with postgres.js instead of a dozen). The
-- event modules of livekit-webhook read the event (identities, egress reports) and pass what
-- they read; each event's effect is one function here. reconcile ends sessions and applies
-- ListEgress reports through the same functions.

-- Sessions are rewritten by most events (status, counts): leave room on their pages so that
-- a new version can stay on its page (a HOT update, no index entries to add).
alter table public.stream_sessions set (fillfactor = 80);

-- Helpers, called inside a service transaction -------------------------------------------------

create function private.act_as_service()
returns void
language plpgsql
volatile
set search_path = ''
as $$
begin
  perform set_config('role', 'service_role', true),
          set_config('request.jwt.claims', '{"role":"service_role"}', true),
          set_config('request.jwt.claim.sub', '', true),
          set_config('lock_timeout', '8s', true); -- as in act_as_user
end
$$;

comment on function private.act_as_service() is
  'Makes the rest of the current transaction service_role''s, as asService does, with lock '
  'waits bounded to 8 s. Owner only.';

-- Current, peak and total viewers and the duration, from the participant rows and times. Peak
-- is the most viewer connections overlapping at any instant, computed from the intervals, so
-- it does not depend on the order events arrived in.
create function private.refresh_session_derived(p_session_id uuid, p_now timestamptz)
returns void
language plpgsql
volatile
set search_path = ''
as $$
begin
  with viewers as (
    select p.joined_at, p.left_at from public.session_participants p
     where p.session_id = p_session_id and p.kind = 'viewer'
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
           case when s.started_at is null or s.ended_at is null then null
             else greatest(0, extract(epoch from (s.ended_at - s.started_at))) end as duration
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

-- Ends a session that has not ended at p_at, closing the connections still open, and
-- recomputes its figures. True when it ended it now.
create function private.end_session_for(
  p_session_id uuid,
  p_reason text,
  p_at timestamptz,
  p_now timestamptz
)
returns boolean
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_ended boolean;
begin
  update public.session_participants p set left_at = greatest(p.joined_at, p_at)
   where p.session_id = p_session_id and p.left_at is null;
  update public.stream_sessions s
     set status = 'ended', end_reason = p_reason, ended_at = p_at, updated_at = p_now
   where s.id = p_session_id and s.status <> 'ended';
  v_ended := found;
  perform private.refresh_session_derived(p_session_id, p_now);
  return v_ended;
end
$$;

-- Creates or moves forward the recording of one egress report (by egress id; a report of an
-- egress not seen yet claims the session's pending recording that has none). A report
-- without an egress id is a failed auto egress: it fails the session's pending recording.
-- Returns created, updated or unchanged. The caller holds the session's row lock, which
-- serialises reports of one session.
create function private.apply_egress_report(
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
    if v_status <> 'failed' then
      return 'unchanged';
    end if;
    update public.recordings r
       set status = 'failed', error = v_error, updated_at = p_now
     where r.session_id = p_session_id and r.source = 'egress' and r.egress_id is null
       and r.status = 'pending';
    return case when found then 'updated' else 'unchanged' end;
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

-- The ledger. An event id counts once: the caller first takes the session's row lock, which
-- serialises deliveries of one event (an id always names the same room), then asks whether
-- the id was seen (only a failed attempt may run again), applies the effects, and records
-- the id as processed, all in one transaction. So a row is written once per event, never in
-- the state processing outside that transaction.
create function private.webhook_seen(p_id text)
returns boolean
language plpgsql
stable
set search_path = ''
as $$
begin
  return exists (select 1 from public.webhook_events w where w.id = p_id and w.outcome <> 'failed');
end
$$;

-- False when another delivery of the event recorded it first.
create function private.webhook_record(
  p_id text,
  p_event text,
  p_room text,
  p_payload jsonb,
  p_now timestamptz,
  p_started timestamptz
)
returns boolean
language plpgsql
volatile
set search_path = ''
as $$
begin
  insert into public.webhook_events as w
    (id, event, room_name, outcome, received_at, processed_at, duration_ms, payload)
  values (p_id, p_event, p_room, 'processed', p_now, p_now,
          round((extract(epoch from clock_timestamp() - p_started) * 1000)::numeric, 2),
          p_payload)
  on conflict (id) do update
     set outcome = 'processed', error = null, received_at = excluded.received_at,
         processed_at = excluded.processed_at, duration_ms = excluded.duration_ms
   where w.outcome = 'failed';
  return found;
end
$$;

-- One function per event ------------------------------------------------------------------------

-- Opens (or completes) the row of a connection. A participant_left processed first created it
-- with its leave time; the join moves joined_at back. A join to an ended session is closed at
-- the end, unless its own leave says otherwise.
create function private.webhook_participant_joined(
  p_session public.stream_sessions,
  p_effect jsonb,
  p_at timestamptz,
  p_now timestamptz
)
returns text
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_streamer boolean := p_effect ->> 'kind' = 'streamer';
begin
  if v_streamer and (p_effect ->> 'userId')::uuid <> p_session.streamer_id then
    return 'ignored: another streamer''s identity';
  end if;
  insert into public.session_participants as p
    (session_id, participant_sid, identity, kind, guardian_id, joined_at, left_at)
  values (p_session.id, p_effect ->> 'sid', p_effect ->> 'identity',
          case when v_streamer then 'streamer' else 'viewer' end,
          (select g.id from public.guardians g where g.id = (p_effect ->> 'guardianId')::uuid),
          p_at,
          case when p_session.status = 'ended' then greatest(p_session.ended_at, p_at) end)
  on conflict (session_id, participant_sid) do update
     set joined_at = least(p.joined_at, excluded.joined_at);
  if not v_streamer then
    return 'viewer joined';
  end if;
  -- The earliest join of the streamer is the session's start.
  update public.stream_sessions s
     set started_at = least(coalesce(s.started_at, p_at), p_at),
         status = case when s.status = 'starting' then 'live' else s.status end,
         updated_at = p_now
   where s.id = p_session.id;
  return case when p_session.status = 'starting' then 'session live'
    else 'streamer joined again' end;
end
$$;

-- participant_left and participant_connection_aborted: the connection's row gets its leave time
-- (the earliest reported), created if the join has not been processed yet.
create function private.webhook_participant_left(
  p_session public.stream_sessions,
  p_effect jsonb,
  p_at timestamptz
)
returns text
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_streamer boolean := p_effect ->> 'kind' = 'streamer';
begin
  if v_streamer and (p_effect ->> 'userId')::uuid <> p_session.streamer_id then
    return 'ignored: another streamer''s identity';
  end if;
  insert into public.session_participants as p
    (session_id, participant_sid, identity, kind, guardian_id, joined_at, left_at)
  values (p_session.id, p_effect ->> 'sid', p_effect ->> 'identity',
          case when v_streamer then 'streamer' else 'viewer' end,
          (select g.id from public.guardians g where g.id = (p_effect ->> 'guardianId')::uuid),
          p_at, p_at)
  on conflict (session_id, participant_sid) do update
     set left_at = greatest(p.joined_at, least(coalesce(p.left_at, excluded.left_at),
                                               excluded.left_at));
  return case when v_streamer then 'streamer left' else 'viewer left' end;
end
$$;

-- track_published: whether the streamer, publishing again while their session is live and
-- recorded, needs a new egress because none is recording them ('egress needed'), or why not.
create function private.webhook_track_published(p_session_id uuid, p_effect jsonb)
returns text
language plpgsql
stable
set search_path = ''
as $$
declare
  v_session public.stream_sessions;
begin
  select * into v_session from public.stream_sessions s where s.id = p_session_id;
  if p_effect ->> 'kind' is distinct from 'streamer'
     or (p_effect ->> 'userId')::uuid <> v_session.streamer_id then
    return 'ignored: not the streamer';
  end if;
  if v_session.status <> 'live' or not v_session.record
     or not coalesce((p_effect ->> 'recordingConfigured')::boolean, false) then
    return 'ignored: session not live and recorded';
  end if;
  if exists (select 1 from public.recordings r
              where r.session_id = p_session_id and r.source = 'egress'
                and r.status in ('pending', 'recording')) then
    return 'egress already recording';
  end if;
  return 'egress needed';
end
$$;

-- One event, whole: the service role, the session's row lock, the ledger check, the event's
-- effect (p_effect as its module read it; {"ignored": outcome} for none), the recount after
-- participant events, and the ledger's outcome. Returns the outcome, or 'duplicate'.
create function private.webhook_apply(
  p_id text,
  p_event text,
  p_room text,
  p_payload jsonb,
  p_at timestamptz,
  p_now timestamptz,
  p_effect jsonb
)
returns text
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_started timestamptz := clock_timestamp();
  v_session public.stream_sessions;
  v_outcome text;
  v_result text;
begin
  perform private.act_as_service();
  if not p_effect ? 'ignored' then
    select * into v_session from public.stream_sessions s where s.room_name = p_room for update;
  end if;
  if private.webhook_seen(p_id) then
    return 'duplicate';
  end if;
  if p_effect ? 'ignored' then
    v_outcome := p_effect ->> 'ignored';
  elsif v_session.id is null then
    v_outcome := 'ignored: no session has this room';
  else
    case p_event
      when 'participant_joined' then
        v_outcome := private.webhook_participant_joined(v_session, p_effect, p_at, p_now);
      when 'participant_left', 'participant_connection_aborted' then
        v_outcome := private.webhook_participant_left(v_session, p_effect, p_at);
      when 'room_finished' then
        v_outcome := case
          when private.end_session_for(v_session.id, 'room_finished', p_at, p_now)
            then 'session ended'
          else 'closed participants of an ended session' end;
      when 'track_published' then
        -- Only decides; the module records the streamer again, with LiveKit, in a transaction
        -- of its own, so nothing is written here then.
        v_outcome := private.webhook_track_published(v_session.id, p_effect);
        if v_outcome = 'egress needed' then
          return v_outcome;
        end if;
      when 'egress_started', 'egress_updated', 'egress_ended' then
        v_result := private.apply_egress_report(v_session.id, v_session.streamer_id,
                                                p_effect, p_now);
        v_outcome := format('recording %s (%s)', v_result, p_effect ->> 'status');
      else
        raise exception 'The webhook has no effect for % events', p_event
          using errcode = 'invalid_parameter_value';
    end case;
    if p_event in ('participant_joined', 'participant_left', 'participant_connection_aborted')
    then
      perform private.refresh_session_derived(v_session.id, p_now);
    end if;
  end if;
  if not private.webhook_record(p_id, p_event, p_room, p_payload, p_now, v_started) then
    -- Only deliveries that changed nothing run unlocked; one that did would be undone here.
    if v_session.id is null then
      return 'duplicate';
    end if;
    raise exception 'Event % was recorded by a concurrent delivery', p_id
      using errcode = 'serialization_failure';
  end if;
  return v_outcome;
end
$$;

comment on function private.webhook_apply(text, text, text, jsonb, timestamptz, timestamptz, jsonb) is
  'Applies one verified LiveKit webhook event exactly once, as service_role, in one statement: '
  'returns its outcome, or duplicate. Owner only.';

revoke all on function private.act_as_service() from public;
revoke all on function private.refresh_session_derived(uuid, timestamptz) from public;
revoke all on function private.end_session_for(uuid, text, timestamptz, timestamptz) from public;
revoke all on function private.apply_egress_report(uuid, uuid, jsonb, timestamptz) from public;
revoke all on function private.webhook_seen(text) from public;
revoke all on function private.webhook_record(text, text, text, jsonb, timestamptz, timestamptz)
  from public;
revoke all on function private.webhook_participant_joined(public.stream_sessions, jsonb,
  timestamptz, timestamptz) from public;
revoke all on function private.webhook_participant_left(public.stream_sessions, jsonb,
  timestamptz) from public;
revoke all on function private.webhook_track_published(uuid, jsonb) from public;
revoke all on function private.webhook_apply(text, text, text, jsonb, timestamptz, timestamptz,
  jsonb) from public;
-- webhook_apply calls these after becoming service_role; reconcile and track_published call
-- some of them inside asService.
grant execute on function private.webhook_participant_joined(public.stream_sessions, jsonb,
  timestamptz, timestamptz) to service_role;
grant execute on function private.webhook_participant_left(public.stream_sessions, jsonb,
  timestamptz) to service_role;
grant execute on function private.refresh_session_derived(uuid, timestamptz) to service_role;
grant execute on function private.end_session_for(uuid, text, timestamptz, timestamptz)
  to service_role;
grant execute on function private.apply_egress_report(uuid, uuid, jsonb, timestamptz)
  to service_role;
grant execute on function private.webhook_seen(text) to service_role;
grant execute on function private.webhook_track_published(uuid, jsonb) to service_role;
grant execute on function private.webhook_record(text, text, text, jsonb, timestamptz, timestamptz)
  to service_role;
