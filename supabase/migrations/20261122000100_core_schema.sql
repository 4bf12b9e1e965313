-- Core tables: stream sessions, guardians, session participants and recordings, with the
-- constraints and triggers that keep their state machines monotonic. Row level security,
-- grants and policies follow in 20261122000300_row_level_security.sql.

-- Helper functions live in a schema the Data API does not expose.
create schema if not exists private;

comment on schema private is
  'Helpers for policies, triggers and functions; not exposed through the Data API.';

revoke all on schema private from public;

-- Stream sessions --------------------------------------------------------------------------

create table public.stream_sessions (
  id uuid not null default gen_random_uuid(),
  streamer_id uuid not null,
  title text,
  status text not null default 'starting',
  end_reason text,
  room_name text not null,
  record boolean not null default true,
  client jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now(),
  started_at timestamptz,
  ended_at timestamptz,
  duration_seconds numeric,
  viewers_current integer not null default 0,
  viewers_peak integer not null default 0,
  viewers_total integer not null default 0,
  updated_at timestamptz not null default now(),
  constraint stream_sessions_pkey primary key (id),
  constraint stream_sessions_streamer_id_fkey foreign key (streamer_id)
    references auth.users (id) on delete cascade,
  constraint stream_sessions_room_name_key unique (room_name),
  -- Lets recordings prove their denormalised streamer_id matches the session's.
  constraint stream_sessions_id_streamer_id_key unique (id, streamer_id),
  constraint stream_sessions_title_length
    check (title is null or char_length(title) between 1 and 120),
  constraint stream_sessions_status_check check (status in ('starting', 'live', 'ended')),
  constraint stream_sessions_end_reason_check
    check (end_reason in ('streamer_ended', 'room_finished', 'abandoned', 'failed')),
  constraint stream_sessions_room_name_length check (char_length(room_name) between 1 and 128),
  constraint stream_sessions_client_is_object check (jsonb_typeof(client) = 'object'),
  constraint stream_sessions_duration_check
    check (duration_seconds is null or duration_seconds >= 0),
  constraint stream_sessions_viewers_check
    check (viewers_current >= 0 and viewers_peak >= viewers_current and viewers_total >= 0),
  constraint stream_sessions_lifecycle check (
    (status = 'starting' and started_at is null and ended_at is null and end_reason is null)
    or (status = 'live' and started_at is not null and ended_at is null and end_reason is null)
    or (status = 'ended' and ended_at is not null and end_reason is not null)
  )
);

comment on table public.stream_sessions is
  'One row per stream. The owning streamer creates and ends it; the streamer and their active '
  'guardians read it; LiveKit webhooks and reconciliation (service_role) move it along '
  'starting -> live -> ended, never backwards.';

-- API.md: one live or starting session per streamer (409 session_already_live).
create unique index stream_sessions_one_active_per_streamer
  on public.stream_sessions (streamer_id)
  where status in ('starting', 'live');

-- A streamer's sessions, newest first.
create index stream_sessions_streamer_created_at_idx
  on public.stream_sessions (streamer_id, created_at desc);

-- Reconciliation: sessions still starting or live, oldest first per status.
create index stream_sessions_active_status_created_at_idx
  on public.stream_sessions (status, created_at)
  where status in ('starting', 'live');

-- The visible live list (GET streams): active sessions newest first; streamer_id lets the
-- visibility check run on the index alone.
create index stream_sessions_live_list_idx
  on public.stream_sessions (created_at desc, streamer_id)
  where status in ('starting', 'live');

create function private.stream_sessions_enforce_monotonic() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if old.status = 'ended' and (
    new.status is distinct from old.status
    or new.ended_at is distinct from old.ended_at
    or new.end_reason is distinct from old.end_reason
  ) then
    raise exception 'Cannot change session %: it ended at % (%), and an ended session never changes',
      old.id, old.ended_at, old.end_reason
      using errcode = 'check_violation',
        constraint = 'stream_sessions_monotonic',
        table = 'stream_sessions',
        schema = 'public';
  end if;
  if old.status = 'live' and new.status = 'starting' then
    raise exception 'Cannot move session % back to starting: it went live at %',
      old.id, old.started_at
      using errcode = 'check_violation',
        constraint = 'stream_sessions_monotonic',
        table = 'stream_sessions',
        schema = 'public';
  end if;
  return new;
end
$$;

comment on function private.stream_sessions_enforce_monotonic() is
  'Trigger: an ended session never changes status, ended_at or end_reason; live never goes '
  'back to starting. Webhooks arrive in any order, so state only moves forward.';

create trigger stream_sessions_monotonic
  before update of status, ended_at, end_reason on public.stream_sessions
  for each row execute function private.stream_sessions_enforce_monotonic();

-- Guardians --------------------------------------------------------------------------------

create table public.guardians (
  id uuid not null default gen_random_uuid(),
  streamer_id uuid not null,
  email text not null,
  name text,
  status text not null default 'pending',
  user_id uuid,
  notify_stream_started boolean not null default true,
  notify_stream_ended boolean not null default false,
  notify_recording_ready boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  confirmed_at timestamptz,
  revoked_at timestamptz,
  constraint guardians_pkey primary key (id),
  constraint guardians_streamer_id_fkey foreign key (streamer_id)
    references auth.users (id) on delete cascade,
  constraint guardians_user_id_fkey foreign key (user_id)
    references auth.users (id) on delete set null,
  constraint guardians_email_normalised check (email = lower(btrim(email))),
  constraint guardians_email_length check (char_length(email) between 3 and 254),
  constraint guardians_email_format check (email like '_%@_%'),
  constraint guardians_name_length check (name is null or char_length(name) between 1 and 100),
  constraint guardians_status_check check (status in ('pending', 'active', 'revoked')),
  constraint guardians_active_confirmed check (status <> 'active' or confirmed_at is not null),
  constraint guardians_revoked_at check (status <> 'revoked' or revoked_at is not null)
);

comment on table public.guardians is
  'People a streamer allows to watch (parents). The streamer adds them (pending), they opt in '
  'through a consent link (active, set by service_role), the streamer revokes them (final). '
  'The streamer reads and edits their guardians; a guardian with an account reads their own '
  'rows.';

comment on column public.guardians.user_id is
  'The auth.users account with this confirmed email, linked by triggers; null until one exists.';

-- API.md: 409 guardian_exists. Revoked rows do not block inviting the same person again.
create unique index guardians_email_unique_per_streamer
  on public.guardians (streamer_id, email)
  where status <> 'revoked';

create index guardians_streamer_id_idx on public.guardians (streamer_id);

-- private.is_active_guardian(): "is the current user an active guardian of this streamer".
create index guardians_active_user_id_idx
  on public.guardians (user_id, streamer_id)
  where status = 'active';

-- Linking a new or newly confirmed account to the guardian rows with its email.
create index guardians_email_idx on public.guardians (email);

create function private.guardians_enforce_monotonic() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if old.status = 'revoked' and new.status <> 'revoked' then
    raise exception 'Cannot change guardian % to %: it was revoked at %, and revocation is final',
      old.id, new.status, old.revoked_at
      using errcode = 'check_violation',
        constraint = 'guardians_monotonic',
        table = 'guardians',
        schema = 'public';
  end if;
  if old.status = 'active' and new.status = 'pending' then
    raise exception 'Cannot move guardian % back to pending: consent was given at %',
      old.id, old.confirmed_at
      using errcode = 'check_violation',
        constraint = 'guardians_monotonic',
        table = 'guardians',
        schema = 'public';
  end if;
  return new;
end
$$;

comment on function private.guardians_enforce_monotonic() is
  'Trigger: revoked is final, and consent (active) never goes back to pending.';

create trigger guardians_monotonic
  before update of status on public.guardians
  for each row execute function private.guardians_enforce_monotonic();

create function private.guardians_enforce_limit() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_count integer;
begin
  if new.status not in ('pending', 'active') then
    return new;
  end if;
  if tg_op = 'UPDATE' and old.status in ('pending', 'active') then
    return new;
  end if;
  -- Serialise concurrent inserts for the same streamer: the second waits for the first to
  -- commit, and its count (a new snapshot under read committed) then includes that row.
  perform pg_catalog.pg_advisory_xact_lock(
    pg_catalog.hashtextextended('public.guardians:' || new.streamer_id::text, 0)
  );
  select count(*) into v_count
  from public.guardians g
  where g.streamer_id = new.streamer_id
    and g.status in ('pending', 'active')
    and g.id <> new.id;
  if v_count >= 10 then
    raise exception 'Cannot add guardian: streamer % already has % pending or active guardians (the limit is 10)',
      new.streamer_id, v_count
      using errcode = 'check_violation',
        constraint = 'guardians_limit',
        table = 'guardians',
        schema = 'public';
  end if;
  return new;
end
$$;

comment on function private.guardians_enforce_limit() is
  'Trigger: at most 10 pending or active guardians per streamer (API.md 409 guardian_limit); '
  'security definer so the count sees every row whatever the caller''s policies.';

create trigger guardians_limit
  before insert or update of status on public.guardians
  for each row execute function private.guardians_enforce_limit();

create function private.guardians_link_account() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if new.user_id is null then
    select u.id into new.user_id
    from auth.users u
    where lower(u.email) = new.email
      and u.email_confirmed_at is not null
      and u.deleted_at is null
    order by u.is_sso_user, u.created_at
    limit 1;
  end if;
  return new;
end
$$;

comment on function private.guardians_link_account() is
  'Trigger: a new guardian row is linked to the account whose confirmed email equals its '
  'email. Security definer: callers cannot read auth.users.';

create trigger guardians_link_account
  before insert on public.guardians
  for each row execute function private.guardians_link_account();

create function private.users_link_guardians() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if new.email is not null and new.email_confirmed_at is not null and new.deleted_at is null then
    update public.guardians g
    set user_id = new.id
    where g.email = lower(new.email)
      and g.user_id is null;
  end if;
  return null;
end
$$;

comment on function private.users_link_guardians() is
  'Trigger on auth.users: when an account with a confirmed email appears (sign-up, email '
  'confirmation or change), unlinked guardian rows with that email are linked to it.';

create trigger users_link_guardians
  after insert or update of email, email_confirmed_at on auth.users
  for each row execute function private.users_link_guardians();

-- Session participants ---------------------------------------------------------------------

create table public.session_participants (
  id uuid not null default gen_random_uuid(),
  session_id uuid not null,
  participant_sid text not null,
  identity text not null,
  kind text not null,
  guardian_id uuid,
  user_id uuid,
  joined_at timestamptz not null,
  left_at timestamptz,
  constraint session_participants_pkey primary key (id),
  constraint session_participants_session_id_fkey foreign key (session_id)
    references public.stream_sessions (id) on delete cascade,
  constraint session_participants_guardian_id_fkey foreign key (guardian_id)
    references public.guardians (id) on delete set null,
  constraint session_participants_user_id_fkey foreign key (user_id)
    references auth.users (id) on delete set null,
  constraint session_participants_session_sid_key unique (session_id, participant_sid),
  constraint session_participants_kind_check check (kind in ('streamer', 'viewer')),
  constraint session_participants_left_after_joined check (left_at is null or left_at >= joined_at)
);

comment on table public.session_participants is
  'Who was in a session''s LiveKit room (viewer counts), written by the LiveKit webhook as '
  'service_role. The streamer and their active guardians read it.';

create index session_participants_open_idx
  on public.session_participants (session_id)
  where left_at is null;

create index session_participants_guardian_id_idx
  on public.session_participants (guardian_id)
  where guardian_id is not null;

-- Recordings -------------------------------------------------------------------------------

create table public.recordings (
  id uuid not null default gen_random_uuid(),
  session_id uuid not null,
  streamer_id uuid not null,
  source text not null,
  status text not null,
  egress_id text,
  object_path text,
  content_type text not null default 'video/mp4',
  size_bytes bigint,
  expected_size_bytes bigint,
  duration_seconds numeric,
  truncated boolean not null default false,
  error text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  started_at timestamptz,
  ready_at timestamptz,
  deleted_at timestamptz,
  constraint recordings_pkey primary key (id),
  constraint recordings_session_id_fkey foreign key (session_id)
    references public.stream_sessions (id) on delete cascade,
  constraint recordings_session_streamer_fkey foreign key (session_id, streamer_id)
    references public.stream_sessions (id, streamer_id) on delete cascade,
  constraint recordings_streamer_id_fkey foreign key (streamer_id)
    references auth.users (id) on delete cascade,
  constraint recordings_egress_id_key unique (egress_id),
  constraint recordings_object_path_key unique (object_path),
  constraint recordings_source_check check (source in ('egress', 'upload')),
  constraint recordings_status_check check (
    status in ('pending', 'recording', 'processing', 'uploading', 'ready', 'failed', 'deleted')
  ),
  constraint recordings_content_type_check check (content_type in ('video/mp4', 'video/webm')),
  constraint recordings_size_bytes_check check (size_bytes is null or size_bytes >= 0),
  constraint recordings_duration_check check (duration_seconds is null or duration_seconds >= 0),
  -- Objects live under recordings/{streamerId}/{sessionId}/ (API.md), so a row can never
  -- point at another streamer's object.
  constraint recordings_object_path_scoped check (
    object_path is null
    or starts_with(object_path, 'recordings/' || streamer_id::text || '/' || session_id::text || '/')
  ),
  constraint recordings_upload_check check (
    source <> 'upload'
    or (
      egress_id is null
      and status not in ('pending', 'recording', 'processing')
      and expected_size_bytes is not null
      and expected_size_bytes between 1 and 524288000
    )
  ),
  constraint recordings_egress_check check (
    source <> 'egress'
    or (status <> 'uploading' and content_type = 'video/mp4' and expected_size_bytes is null)
  ),
  constraint recordings_ready_at check (status <> 'ready' or ready_at is not null),
  constraint recordings_deleted_at check (status <> 'deleted' or deleted_at is not null)
);

comment on table public.recordings is
  'Recordings of a session: LiveKit egress writes them to GCS (service_role), or the streamer '
  'uploads one through a signed URL. The streamer reads, completes and deletes them; active '
  'guardians read them and may only mark them deleted.';

comment on column public.recordings.streamer_id is
  'The session''s streamer, copied for policies and object paths; the composite foreign key '
  'recordings_session_streamer_fkey keeps it equal to the session''s.';

create index recordings_session_created_at_idx on public.recordings (session_id, created_at);

create index recordings_streamer_created_at_idx on public.recordings (streamer_id, created_at);

-- Reconciliation: recordings that have not settled yet.
create index recordings_unsettled_idx
  on public.recordings (status, updated_at)
  where status in ('pending', 'recording', 'processing', 'uploading');

-- Retention: ready recordings by age.
create index recordings_ready_at_idx
  on public.recordings (ready_at)
  where status = 'ready';

create function private.recordings_enforce_monotonic() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  v_allowed boolean;
begin
  if new.source is distinct from old.source
    or new.session_id is distinct from old.session_id
    or new.streamer_id is distinct from old.streamer_id then
    raise exception 'Cannot move recording % to another source, session or streamer', old.id
      using errcode = 'check_violation',
        constraint = 'recordings_immutable',
        table = 'recordings',
        schema = 'public';
  end if;
  if new.status = old.status then
    return new;
  end if;
  v_allowed := case old.status
    when 'pending' then new.status in ('recording', 'processing', 'ready', 'failed', 'deleted')
    when 'recording' then new.status in ('processing', 'ready', 'failed', 'deleted')
    when 'processing' then new.status in ('ready', 'failed', 'deleted')
    when 'uploading' then new.status in ('ready', 'failed', 'deleted')
    when 'ready' then new.status = 'deleted'
    when 'failed' then new.status = 'deleted'
    else false
  end;
  if not v_allowed then
    raise exception 'Cannot move recording % from % to %: a recording''s status only moves forward',
      old.id, old.status, new.status
      using errcode = 'check_violation',
        constraint = 'recordings_monotonic',
        table = 'recordings',
        schema = 'public';
  end if;
  return new;
end
$$;

comment on function private.recordings_enforce_monotonic() is
  'Trigger: pending -> recording -> processing -> ready | failed and uploading -> ready | '
  'failed, forward only (steps may be skipped: egress events arrive in any order); ready and '
  'failed may only become deleted; deleted is final. Source, session and streamer never change.';

create trigger recordings_monotonic
  before update on public.recordings
  for each row execute function private.recordings_enforce_monotonic();
