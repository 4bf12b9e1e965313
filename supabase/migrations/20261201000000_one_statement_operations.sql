-- The hot one-step operations as one statement each. With prepare: false, postgres.js sends a
-- statement that binds parameters in two round trips, so the begin / claims / query / commit
-- of a user transaction cost six; a function that becomes the user itself costs two.
--
-- private.act_as_user does for the rest of the statement's transaction what asUser's first
-- statement does: role authenticated, request.jwt.claims and request.jwt.claim.sub, local to
-- the transaction. It is called first by security invoker functions, so every query after it
-- is checked as the user by the same RLS policies; the transaction stays the user's after it,
-- so each is called once, as a statement (a transaction) of its own. None is granted to
-- anyone: only their owner (the role the functions connect as) may call them, and a user who
-- could call them could name any claims.

create function private.act_as_user(p_claims text)
returns void
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_sub text;
begin
  begin
    v_sub := p_claims::jsonb ->> 'sub';
  exception when others then
    v_sub := null;
  end;
  if v_sub is null or v_sub !~ '^[0-9a-fA-F-]{36}$' then
    raise exception 'The claims must be a JSON object whose sub is a user id'
      using errcode = 'invalid_parameter_value';
  end if;
  perform set_config('role', 'authenticated', true),
          set_config('request.jwt.claims', p_claims, true),
          set_config('request.jwt.claim.sub', v_sub, true),
          -- A statement cannot shorten its own statement_timeout, but its lock waits, the one
          -- wait these operations can have, end after the same 8 s as asUser's statements.
          set_config('lock_timeout', '8s', true);
end
$$;

comment on function private.act_as_user(text) is
  'Makes the rest of the current transaction the user''s: role authenticated and their '
  'request.jwt.claims, as PostgREST sets them, with lock waits bounded to 8 s. Owner only.';

-- streams: the list --------------------------------------------------------------------------

-- The policies' list of the streamers a user guards, as plpgsql: a security definer SQL
-- function is not inlined, so its query was planned again on every call. Same result.
create or replace function private.guarded_streamer_ids()
returns uuid[]
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return (select coalesce(array_agg(g.streamer_id), '{}')
            from public.guardians g
           where g.user_id = auth.uid() and g.status = 'active');
end
$$;

-- Own sessions and guarded streamers' sessions as two index lookups: with one OR'ed filter the
-- planner walked every live session in created_at order. Same rows, same order; a streamer who
-- guards themselves is not listed twice.
create or replace function private.active_sessions_for(p_user_id uuid, p_limit integer)
returns setof private.session_listings
language plpgsql
stable
set search_path = ''
as $$
begin
  return query
    select * from (
      select * from private.session_listings l
       where l.streamer_id = p_user_id and l.status in ('starting', 'live')
      union all
      select * from private.session_listings l
       where l.streamer_id = any (array(
               select g.streamer_id from public.guardians g
                where g.user_id = p_user_id and g.status = 'active'
                  and g.streamer_id <> p_user_id))
         and l.status in ('starting', 'live')
    ) as visible
    order by visible.created_at desc
    limit p_limit;
end
$$;

create function private.user_active_sessions(p_claims text, p_limit integer)
returns setof private.session_listings
language plpgsql
volatile
set search_path = ''
as $$
begin
  perform private.act_as_user(p_claims);
  return query
    select * from private.active_sessions_for((p_claims::jsonb ->> 'sub')::uuid, p_limit);
end
$$;

comment on function private.user_active_sessions(text, integer) is
  'private.active_sessions_for as the user of p_claims, in one statement. Owner only.';

-- livekit-token: the rate limit, the session and the caller's guardianship -----------------

create function private.user_session_access(
  p_claims text,
  p_session_id uuid,
  p_rate_key text,
  p_rate_limit integer,
  p_rate_window_seconds integer,
  p_now timestamptz
)
returns table (
  allowed boolean,
  retry_after_seconds integer,
  guardian_id uuid,
  guardian_name text,
  session jsonb
)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_allowed boolean;
  v_retry integer;
  v_session private.session_listings;
  v_guardian public.guardians;
begin
  -- The hit is counted first, before the caller's role is taken (rate_limit_hit is not theirs).
  select h.allowed, h.retry_after_seconds into v_allowed, v_retry
    from private.rate_limit_hit(p_rate_key, p_rate_limit, p_rate_window_seconds, p_now) h;
  perform set_config('synchronous_commit', 'off', true);
  if not v_allowed then
    return query select false, v_retry, null::uuid, null::text, null::jsonb;
    return;
  end if;
  perform private.act_as_user(p_claims);
  select * into v_session from private.session_by_id(p_session_id);
  if v_session.id is null then
    return query select true, 0, null::uuid, null::text, null::jsonb;
    return;
  end if;
  if v_session.streamer_id <> (p_claims::jsonb ->> 'sub')::uuid then
    select * into v_guardian from public.guardians g
     where g.streamer_id = v_session.streamer_id
       and g.user_id = (p_claims::jsonb ->> 'sub')::uuid and g.status = 'active'
     limit 1;
  end if;
  return query select true, 0, v_guardian.id, v_guardian.name, to_jsonb(v_session);
end
$$;

comment on function private.user_session_access(text, uuid, text, integer, integer, timestamptz) is
  'Counts a rate-limit hit on p_rate_key; when allowed, the session p_session_id as the user of '
  'p_claims sees it (null when not visible) and their active guardianship of its streamer when '
  'they are not its streamer. One statement. Owner only.';

-- end-session ----------------------------------------------------------------------------------

-- The outbox rows of a session or recording event (the triggers' helper), as plpgsql for the
-- same reason as guarded_streamer_ids: the SQL function's insert was planned on every call.
create or replace function private.queue_guardian_notifications(
  p_kind text,
  p_streamer_id uuid,
  p_session_id uuid,
  p_recording_id uuid,
  p_at timestamptz
)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into public.notification_outbox
    (kind, guardian_id, streamer_id, session_id, recording_id, object_id,
     next_attempt_at, created_at, updated_at)
  select p_kind, g.id, g.streamer_id, p_session_id, p_recording_id,
         coalesce(p_recording_id, p_session_id), p_at, p_at, p_at
    from public.guardians g
   where g.streamer_id = p_streamer_id
     and g.status = 'active'
     and case p_kind
           when 'stream_started' then g.notify_stream_started
           when 'stream_ended' then g.notify_stream_ended
           when 'recording_ready' then g.notify_recording_ready
         end
  on conflict on constraint notification_outbox_once do nothing;
end
$$;

create function private.user_end_session(p_claims text, p_session_id uuid, p_now timestamptz)
returns table (outcome text, session jsonb)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_session private.session_listings;
begin
  perform private.act_as_user(p_claims);
  select * into v_session from private.session_by_id(p_session_id);
  if v_session.id is null then
    return query select 'not_found', null::jsonb;
    return;
  end if;
  if v_session.streamer_id <> (p_claims::jsonb ->> 'sub')::uuid then
    return query select 'forbidden', null::jsonb;
    return;
  end if;
  if v_session.status <> 'ended' then
    update public.stream_sessions s
       set status = 'ended', end_reason = 'streamer_ended', ended_at = p_now,
           duration_seconds = case when s.started_at is null then null
             else greatest(0, extract(epoch from (p_now - s.started_at))) end,
           updated_at = p_now
     where s.id = p_session_id and s.status <> 'ended';
    select * into v_session from private.session_by_id(p_session_id);
  end if;
  return query select 'ended', to_jsonb(v_session);
end
$$;

comment on function private.user_end_session(text, uuid, timestamptz) is
  'Ends the session p_session_id as the user of p_claims (RLS decides), idempotently: outcome '
  'not_found (not visible), forbidden (not theirs) or ended, with the session. Owner only.';

revoke all on function private.act_as_user(text) from public;
revoke all on function private.user_active_sessions(text, integer) from public;
revoke all on function private.user_session_access(text, uuid, text, integer, integer, timestamptz)
  from public;
revoke all on function private.user_end_session(text, uuid, timestamptz) from public;

-- start-session ----------------------------------------------------------------------------------

-- Everything start-session writes before it asks LiveKit for the room, in one statement of the
-- transaction that stays open during that call (so a LiveKit failure rolls it all back, the
-- rate-limit hit included): the hit, the Idempotency-Key (claimed, replayed or refused), the
-- check for a session already starting or live, the session (whose pending recording comes
-- from its trigger) and the key's response. A concurrent start by the same streamer waits on
-- the rate-limit row and then finds this session; if it still races past, the unique index
-- stream_sessions_one_active_per_streamer refuses it.
create function private.user_start_session(
  p_claims text,
  p_rate_key text,
  p_rate_limit integer,
  p_rate_window_seconds integer,
  p_idempotency_key text,
  p_request_hash text,
  p_key_expires_at timestamptz,
  p_session_id uuid,
  p_room_name text,
  p_title text,
  p_record boolean,
  p_client jsonb,
  p_now timestamptz
)
returns table (outcome text, retry_after_seconds integer, session jsonb)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_user uuid := (p_claims::jsonb ->> 'sub')::uuid;
  v_allowed boolean;
  v_retry integer;
  v_previous public.idempotency_keys;
  v_session private.session_listings;
begin
  select h.allowed, h.retry_after_seconds into v_allowed, v_retry
    from private.rate_limit_hit(p_rate_key, p_rate_limit, p_rate_window_seconds, p_now) h;
  if not v_allowed then
    return query select 'rate_limited', v_retry, null::jsonb;
    return;
  end if;
  perform private.act_as_user(p_claims);

  if p_idempotency_key is not null then
    insert into public.idempotency_keys as k
      (user_id, operation, key, request_hash, created_at, expires_at)
    values (v_user, 'start-session', p_idempotency_key, p_request_hash, p_now, p_key_expires_at)
    on conflict (user_id, operation, key) do update
       set request_hash = excluded.request_hash, response = null, status_code = null,
           created_at = excluded.created_at, expires_at = excluded.expires_at
     where k.expires_at <= p_now;
    if not found then
      select * into v_previous from public.idempotency_keys k
       where k.user_id = v_user and k.operation = 'start-session' and k.key = p_idempotency_key;
      if v_previous.request_hash is distinct from p_request_hash then
        return query select 'key_reused', 0, null::jsonb;
        return;
      end if;
      select * into v_session
        from private.session_by_id((v_previous.response ->> 'sessionId')::uuid);
      return query select 'replay', 0,
        case when v_session.id is null then null else to_jsonb(v_session) end;
      return;
    end if;
  end if;

  select * into v_session from private.active_session_of(v_user);
  if v_session.id is not null then
    return query select 'already_live', 0, jsonb_build_object('id', v_session.id);
    return;
  end if;

  insert into public.stream_sessions
    (id, streamer_id, title, status, room_name, record, client, created_at, updated_at)
  values (p_session_id, v_user, p_title, 'starting', p_room_name, p_record, p_client,
          p_now, p_now);
  if p_idempotency_key is not null then
    update public.idempotency_keys k
       set response = jsonb_build_object('sessionId', p_session_id), status_code = 201
     where k.user_id = v_user and k.operation = 'start-session' and k.key = p_idempotency_key;
  end if;
  select * into v_session from private.session_by_id(p_session_id);
  return query select 'created', 0, to_jsonb(v_session);
end
$$;

comment on function private.user_start_session(text, text, integer, integer, text, text,
  timestamptz, uuid, text, text, boolean, jsonb, timestamptz) is
  'start-session''s writes as the user of p_claims: outcome rate_limited (with '
  'retry_after_seconds), key_reused, replay (the key''s session, null when no longer visible), '
  'already_live (session holds the active session''s id) or created (the new session). Owner '
  'only.';

revoke all on function private.user_start_session(text, text, integer, integer, text, text,
  timestamptz, uuid, text, text, boolean, jsonb, timestamptz) from public;
