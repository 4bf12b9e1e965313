-- Who may do what. Functions act for a user as `authenticated` with request.jwt.claims set
-- (so these policies decide, as they would through PostgREST) and for LiveKit, the outbox
-- and maintenance as `service_role`, which bypasses RLS. `anon` gets nothing anywhere.
--
-- Grants are explicit: every table first loses whatever default privileges the project
-- hands out, then gets exactly what its policies need. Policies read the caller only through
-- auth.uid(), wrapped as (select auth.uid()) so it is evaluated once per statement.

-- Helpers ----------------------------------------------------------------------------------

create function private.is_active_guardian(p_streamer_id uuid) returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select 1
    from public.guardians g
    where g.streamer_id = p_streamer_id
      and g.user_id = (select auth.uid())
      and g.status = 'active'
  )
$$;

comment on function private.is_active_guardian(uuid) is
  'True when the current user (auth.uid()) is an active guardian of the streamer. Security '
  'definer so policies on other tables can ask without exposing guardians rows.';

revoke all on all functions in schema private from public;

grant usage on schema private to authenticated, service_role;

grant execute on function private.is_active_guardian(uuid) to authenticated, service_role;

grant execute on function private.rate_limit_hit(text, integer, integer, timestamptz)
  to service_role;

-- Row level security everywhere ------------------------------------------------------------

alter table public.stream_sessions enable row level security;
alter table public.session_participants enable row level security;
alter table public.recordings enable row level security;
alter table public.guardians enable row level security;
alter table public.notification_outbox enable row level security;
alter table public.webhook_events enable row level security;
alter table public.idempotency_keys enable row level security;
alter table public.rate_limit_buckets enable row level security;

revoke all on table
  public.stream_sessions,
  public.session_participants,
  public.recordings,
  public.guardians,
  public.notification_outbox,
  public.webhook_events,
  public.idempotency_keys,
  public.rate_limit_buckets
from public, anon, authenticated, service_role;

grant select, insert, update, delete on table
  public.stream_sessions,
  public.session_participants,
  public.recordings,
  public.guardians,
  public.notification_outbox,
  public.webhook_events,
  public.idempotency_keys,
  public.rate_limit_buckets
to service_role;

-- stream_sessions --------------------------------------------------------------------------

grant select on table public.stream_sessions to authenticated;

grant insert (id, streamer_id, title, status, room_name, record, client, created_at, updated_at)
  on table public.stream_sessions to authenticated;

grant update (status, ended_at, end_reason, duration_seconds, updated_at, title)
  on table public.stream_sessions to authenticated;

create policy stream_sessions_select_own on public.stream_sessions
  for select to authenticated
  using (streamer_id = (select auth.uid()));

comment on policy stream_sessions_select_own on public.stream_sessions is
  'A streamer reads their own sessions.';

create policy stream_sessions_select_guarded on public.stream_sessions
  for select to authenticated
  using (private.is_active_guardian(streamer_id));

comment on policy stream_sessions_select_guarded on public.stream_sessions is
  'An active guardian (with an account) reads the sessions of the streamer they guard.';

create policy stream_sessions_insert_own on public.stream_sessions
  for insert to authenticated
  with check (streamer_id = (select auth.uid()) and status = 'starting');

comment on policy stream_sessions_insert_own on public.stream_sessions is
  'A streamer creates sessions for themselves only, in status starting.';

create policy stream_sessions_update_own on public.stream_sessions
  for update to authenticated
  using (streamer_id = (select auth.uid()))
  with check (streamer_id = (select auth.uid()));

comment on policy stream_sessions_update_own on public.stream_sessions is
  'A streamer updates (ends, retitles) their own sessions, through the column grants only; '
  'nobody but service_role deletes sessions.';

-- session_participants ---------------------------------------------------------------------

grant select on table public.session_participants to authenticated;

create policy session_participants_select_own on public.session_participants
  for select to authenticated
  using (
    exists (
      select 1
      from public.stream_sessions s
      where s.id = session_id
        and s.streamer_id = (select auth.uid())
    )
  );

comment on policy session_participants_select_own on public.session_participants is
  'A streamer reads who joined their sessions. Only service_role (the webhook) writes.';

create policy session_participants_select_guarded on public.session_participants
  for select to authenticated
  using (
    exists (
      select 1
      from public.stream_sessions s
      where s.id = session_id
        and private.is_active_guardian(s.streamer_id)
    )
  );

comment on policy session_participants_select_guarded on public.session_participants is
  'An active guardian reads who joined the sessions of the streamer they guard.';

-- recordings -------------------------------------------------------------------------------

grant select on table public.recordings to authenticated;

grant insert (
  id, session_id, streamer_id, source, status, object_path, content_type, expected_size_bytes,
  created_at, updated_at
) on table public.recordings to authenticated;

grant update (status, size_bytes, ready_at, deleted_at, error, updated_at)
  on table public.recordings to authenticated;

create policy recordings_select_own on public.recordings
  for select to authenticated
  using (streamer_id = (select auth.uid()));

comment on policy recordings_select_own on public.recordings is
  'A streamer reads their own recordings.';

create policy recordings_select_guarded on public.recordings
  for select to authenticated
  using (private.is_active_guardian(streamer_id));

comment on policy recordings_select_guarded on public.recordings is
  'An active guardian reads the recordings of the streamer they guard.';

create policy recordings_insert_own_upload on public.recordings
  for insert to authenticated
  with check (
    streamer_id = (select auth.uid())
    and source = 'upload'
    and status = 'uploading'
    and exists (
      select 1
      from public.stream_sessions s
      where s.id = session_id
        and s.streamer_id = (select auth.uid())
    )
  );

comment on policy recordings_insert_own_upload on public.recordings is
  'A streamer starts an upload (source upload, status uploading) for their own session; '
  'egress recordings are created by service_role.';

create policy recordings_update_own on public.recordings
  for update to authenticated
  using (streamer_id = (select auth.uid()))
  with check (streamer_id = (select auth.uid()));

comment on policy recordings_update_own on public.recordings is
  'A streamer completes, fails or deletes their own recordings, through the column grants '
  'only; nobody but service_role deletes rows.';

create policy recordings_update_guarded_delete on public.recordings
  for update to authenticated
  using (private.is_active_guardian(streamer_id))
  with check (status = 'deleted' and private.is_active_guardian(streamer_id));

comment on policy recordings_update_guarded_delete on public.recordings is
  'An active guardian may mark a recording of the streamer they guard deleted, and change '
  'nothing else.';

-- guardians --------------------------------------------------------------------------------

grant select on table public.guardians to authenticated;

grant insert (
  id, streamer_id, email, name, status, notify_stream_started, notify_stream_ended,
  notify_recording_ready, created_at, updated_at
) on table public.guardians to authenticated;

grant update (
  status, revoked_at, name, notify_stream_started, notify_stream_ended, notify_recording_ready,
  updated_at
) on table public.guardians to authenticated;

create policy guardians_select_own on public.guardians
  for select to authenticated
  using (streamer_id = (select auth.uid()));

comment on policy guardians_select_own on public.guardians is
  'A streamer reads the guardians they added.';

create policy guardians_select_self on public.guardians
  for select to authenticated
  using (user_id = (select auth.uid()));

comment on policy guardians_select_self on public.guardians is
  'A guardian with an account reads the rows that name them (for every streamer, whatever '
  'their status).';

create policy guardians_insert_own on public.guardians
  for insert to authenticated
  with check (streamer_id = (select auth.uid()) and status = 'pending');

comment on policy guardians_insert_own on public.guardians is
  'A streamer invites guardians for themselves only, as pending; consent (active) is set by '
  'service_role from the consent link.';

create policy guardians_update_own on public.guardians
  for update to authenticated
  using (streamer_id = (select auth.uid()))
  with check (streamer_id = (select auth.uid()));

comment on policy guardians_update_own on public.guardians is
  'A streamer renames, revokes and sets notifications of their guardians, through the column '
  'grants only (not email, user_id or confirmed_at); nobody but service_role deletes rows.';

-- idempotency_keys -------------------------------------------------------------------------

grant select, insert on table public.idempotency_keys to authenticated;

grant update (request_hash, status_code, response, created_at, expires_at)
  on table public.idempotency_keys to authenticated;

create policy idempotency_keys_select_own on public.idempotency_keys
  for select to authenticated
  using (user_id = (select auth.uid()));

comment on policy idempotency_keys_select_own on public.idempotency_keys is
  'A user reads their own idempotency keys.';

create policy idempotency_keys_insert_own on public.idempotency_keys
  for insert to authenticated
  with check (user_id = (select auth.uid()));

comment on policy idempotency_keys_insert_own on public.idempotency_keys is
  'A user records idempotency keys for themselves only.';

create policy idempotency_keys_update_own on public.idempotency_keys
  for update to authenticated
  using (user_id = (select auth.uid()))
  with check (user_id = (select auth.uid()));

comment on policy idempotency_keys_update_own on public.idempotency_keys is
  'A user stores the response for (or renews) their own idempotency keys; service_role '
  'deletes expired ones.';

-- notification_outbox, webhook_events, rate_limit_buckets: RLS on, no policies and no grants
-- for anon or authenticated, so only service_role (and the owner) reach them.
