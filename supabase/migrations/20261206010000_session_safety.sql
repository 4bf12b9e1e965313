-- Sessions after the Data API became read-only (20261206000000_data_api_read_only.sql): the
-- one-statement operations of start-session, end-session and livekit-token no longer write as
-- the user (who may write nothing). Each checks who the caller is explicitly, as the owner the
-- functions connect as, and writes as service_role after those checks. See API.md, "Who may
-- see a child": publishing is the owner's alone, and idempotency keys keep only successes.

-- Rooms ----------------------------------------------------------------------------------------

-- A session's LiveKit room is session-{id}, the name start-session creates; livekit-token
-- grants only that room. Rows written before the Data API closed may hold any name a user
-- chose: those still starting or live are ended (nothing of theirs was created by
-- start-session), and their rooms renamed, so that the constraint holds for every row.
update public.stream_sessions s
   set status = 'ended', end_reason = 'failed', ended_at = now(), updated_at = now()
 where s.room_name <> 'session-' || s.id::text and s.status <> 'ended';

update public.stream_sessions s
   set room_name = 'session-' || s.id::text
 where s.room_name <> 'session-' || s.id::text;

alter table public.stream_sessions
  add constraint stream_sessions_room_name_is_session
  check (room_name = 'session-' || id::text);

comment on constraint stream_sessions_room_name_is_session on public.stream_sessions is
  'The room is the one start-session creates for the session: session-{id}. livekit-token '
  'grants publishing only there.';

-- Idempotency keys -------------------------------------------------------------------------------

-- The session a key's first success created, as a foreign key to the key's own user's
-- sessions: a key can only ever replay a session of the user who holds it. response stays for
-- readers; replays read session_id alone.
alter table public.idempotency_keys
  add column session_id uuid;

-- Keys whose response names a session of their own user keep it; every other key (a planted
-- row, or one that stored a failure) holds no outcome and is dropped, freeing the key.
update public.idempotency_keys k
   set session_id = s.id
  from public.stream_sessions s
 where k.response ->> 'sessionId' ~ '^[0-9a-fA-F-]{36}$'
   and s.id = (k.response ->> 'sessionId')::uuid
   and s.streamer_id = k.user_id;

delete from public.idempotency_keys where session_id is null;

alter table public.idempotency_keys
  add constraint idempotency_keys_session_owned_fkey foreign key (session_id, user_id)
    references public.stream_sessions (id, streamer_id) on delete cascade;

create index idempotency_keys_session_id_idx on public.idempotency_keys (session_id)
  where session_id is not null;

comment on column public.idempotency_keys.session_id is
  'The session the key''s successful start-session created; always one of the key user''s own '
  '(idempotency_keys_session_owned_fkey). A key without one holds no outcome.';

-- start-session ----------------------------------------------------------------------------------

-- Same signature as before (20261201000000_one_statement_operations.sql); the code calls it
-- with named arguments. The changes: the caller must be a user of auth.users; a replay trusts
-- only a key whose session_id is a session the caller owns (a key without one is claimed
-- again); an outcome other than created leaves no key behind; the writes are service_role's.
create or replace function private.user_start_session(
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
  if not exists (select 1 from auth.users u where u.id = v_user) then
    return query select 'unknown_user', 0, null::jsonb;
    return;
  end if;
  if p_room_name is distinct from 'session-' || p_session_id::text then
    raise exception 'Cannot start session %: its room must be session-%, not %',
      p_session_id, p_session_id, p_room_name
      using errcode = 'invalid_parameter_value';
  end if;

  -- The writes are service_role's from here on; every decision below reads explicitly by the
  -- caller's id, never through a row the caller could have written.
  perform private.act_as_service();

  if p_idempotency_key is not null then
    -- Claims the key, or waits for a concurrent request that holds it. A key whose time ran
    -- out, or that holds no outcome, is claimed again.
    insert into public.idempotency_keys as k
      (user_id, operation, key, request_hash, created_at, expires_at)
    values (v_user, 'start-session', p_idempotency_key, p_request_hash, p_now, p_key_expires_at)
    on conflict (user_id, operation, key) do update
       set request_hash = excluded.request_hash, response = null, status_code = null,
           session_id = null, created_at = excluded.created_at, expires_at = excluded.expires_at
     where k.expires_at <= p_now or k.session_id is null;
    if not found then
      select * into v_previous from public.idempotency_keys k
       where k.user_id = v_user and k.operation = 'start-session' and k.key = p_idempotency_key;
      if v_previous.request_hash is distinct from p_request_hash then
        return query select 'key_reused', 0, null::jsonb;
        return;
      end if;
      select * into v_session from private.session_by_id(v_previous.session_id) l
       where l.streamer_id = v_user;
      return query select 'replay', 0,
        case when v_session.id is null then null else to_jsonb(v_session) end;
      return;
    end if;
  end if;

  select * into v_session from private.active_session_of(v_user);
  if v_session.id is not null then
    -- A refusal stores no outcome: the key may be used again.
    if p_idempotency_key is not null then
      delete from public.idempotency_keys k
       where k.user_id = v_user and k.operation = 'start-session' and k.key = p_idempotency_key;
    end if;
    return query select 'already_live', 0, jsonb_build_object('id', v_session.id);
    return;
  end if;

  insert into public.stream_sessions
    (id, streamer_id, title, status, room_name, record, client, created_at, updated_at)
  values (p_session_id, v_user, p_title, 'starting', p_room_name, p_record, p_client,
          p_now, p_now);
  if p_idempotency_key is not null then
    update public.idempotency_keys k
       set session_id = p_session_id, status_code = 201,
           response = jsonb_build_object('sessionId', p_session_id)
     where k.user_id = v_user and k.operation = 'start-session' and k.key = p_idempotency_key;
  end if;
  select * into v_session from private.session_by_id(p_session_id);
  return query select 'created', 0, to_jsonb(v_session);
end
$$;

comment on function private.user_start_session(text, text, integer, integer, text, text,
  timestamptz, uuid, text, text, boolean, jsonb, timestamptz) is
  'start-session''s writes for the user of p_claims (service_role writes after explicit '
  'checks): outcome rate_limited (with retry_after_seconds), unknown_user (no auth.users row), '
  'key_reused, replay (the key''s session when it is the caller''s, else null), already_live '
  '(session holds the active session''s id; the key is released) or created. Owner only.';

-- end-session --------------------------------------------------------------------------------

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
           duration_seconds = case when s.started_at is null then null
             else greatest(0, extract(epoch from (p_now - s.started_at))) end,
           updated_at = p_now
     where s.id = p_session_id and s.streamer_id = v_user and s.status <> 'ended';
    select * into v_session from private.session_by_id(p_session_id);
  end if;
  return query select 'ended', to_jsonb(v_session);
end
$$;

comment on function private.user_end_session(text, uuid, timestamptz) is
  'Ends the session p_session_id for the user of p_claims, idempotently, as service_role after '
  'explicit checks: outcome unknown_user (no auth.users row), not_found (neither theirs nor of '
  'a streamer they actively guard), forbidden (a guardian''s) or ended, with the session. '
  'Owner only.';

-- livekit-token --------------------------------------------------------------------------------

-- The rate-limit bucket is now the viewer's, not the account's: a guardian's account and watch
-- links count together in p_rate_name:guardian:{guardianId} (the link door of livekit-token
-- uses the same key), and everyone else counts in p_rate_name:user:{userId}. Same argument
-- types as before, so the old function is replaced.
drop function private.user_session_access(text, uuid, text, integer, integer, timestamptz);

create function private.user_session_access(
  p_claims text,
  p_session_id uuid,
  p_rate_name text,
  p_rate_limit integer,
  p_rate_window_seconds integer,
  p_now timestamptz
)
returns table (
  allowed boolean,
  retry_after_seconds integer,
  guardian_id uuid,
  guardian_name text,
  session jsonb,
  known_user boolean
)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_user uuid := (p_claims::jsonb ->> 'sub')::uuid;
  v_allowed boolean;
  v_retry integer;
  v_session private.session_listings;
  v_guardian public.guardians;
begin
  -- auth.users is the owner's to read, not service_role's: checked before becoming it.
  if not exists (select 1 from auth.users u where u.id = v_user) then
    return query select true, 0, null::uuid, null::text, null::jsonb, false;
    return;
  end if;
  perform private.act_as_service();
  perform set_config('synchronous_commit', 'off', true);
  select * into v_session from private.session_by_id(p_session_id);
  if v_session.id is not null and v_session.streamer_id <> v_user then
    select * into v_guardian from public.guardians g
     where g.streamer_id = v_session.streamer_id and g.user_id = v_user and g.status = 'active'
     order by g.created_at
     limit 1;
    if v_guardian.id is null then
      v_session := null; -- not theirs to see
    end if;
  end if;
  select h.allowed, h.retry_after_seconds into v_allowed, v_retry
    from private.rate_limit_hit(
      case when v_guardian.id is not null then p_rate_name || ':guardian:' || v_guardian.id
           else p_rate_name || ':user:' || v_user end,
      p_rate_limit, p_rate_window_seconds, p_now) h;
  if not v_allowed then
    return query select false, v_retry, null::uuid, null::text, null::jsonb, true;
    return;
  end if;
  return query select true, 0, v_guardian.id, v_guardian.name,
    case when v_session.id is null then null else to_jsonb(v_session) end, true;
end
$$;

comment on function private.user_session_access(text, uuid, text, integer, integer, timestamptz) is
  'livekit-token for the user of p_claims: counts a rate-limit hit in '
  'p_rate_name:guardian:{guardianId} for an active guardian of the session''s streamer, else in '
  'p_rate_name:user:{userId}; when allowed, the session (null unless it is theirs or they '
  'actively guard its streamer) and the guardianship, or known_user false when no auth.users '
  'row has their id. Reads as service_role. Owner only.';

revoke all on function private.user_session_access(text, uuid, text, integer, integer, timestamptz)
  from public;
