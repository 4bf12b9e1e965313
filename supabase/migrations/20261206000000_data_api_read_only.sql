-- The Data API (PostgREST) is a second door to these tables, open to every signed-in user. It
-- may read what row level security allows and write nothing: every change is made by a
-- function (owner-only SQL functions in schema private, or service_role), which checks who the
-- caller is before it writes. See API.md, "Who may see a child": "Every write goes through a
-- function".
--
-- Before this migration a streamer could insert a session with any room_name, a guardian could
-- mark a recording deleted while its object stayed, a streamer could re-enable an unsubscribed
-- guardian's emails or activate a guardian, and anyone could plant an idempotency key that
-- start-session then replayed.

-- No writes for anon or authenticated, on every table of schema public, now and later.
-- Revoking a table privilege also revokes the column privileges of the same kind.
revoke insert, update, delete, truncate, references, trigger
  on all tables in schema public
  from anon, authenticated;

alter default privileges in schema public
  revoke insert, update, delete, truncate, references, trigger on tables
  from anon, authenticated;

-- The write policies go with the grants, so that no later grant reopens them by accident.
drop policy stream_sessions_insert_own on public.stream_sessions;
drop policy stream_sessions_update_own on public.stream_sessions;
drop policy recordings_insert_own_upload on public.recordings;
drop policy recordings_update_own on public.recordings;
drop policy recordings_update_guarded_delete on public.recordings;
drop policy guardians_insert_own on public.guardians;
drop policy guardians_update_own on public.guardians;
drop policy idempotency_keys_insert_own on public.idempotency_keys;
drop policy idempotency_keys_update_own on public.idempotency_keys;

-- A guardian sees the sessions of the streamer it guards and their viewer counts (on
-- stream_sessions), never the list of who else watched: participant rows name other viewers.
drop policy session_participants_select_guarded on public.session_participants;

comment on table public.stream_sessions is
  'One row per stream. The owning streamer and their active guardians read it through the Data '
  'API; only functions write it: start-session and end-session through owner-only SQL '
  'functions, LiveKit webhooks and reconciliation as service_role (starting -> live -> ended, '
  'never backwards).';

comment on table public.recordings is
  'Recordings of a session (egress or upload). The streamer and their active guardians read '
  'them through the Data API; only functions write them.';

comment on table public.guardians is
  'People allowed to watch a streamer. The streamer and the guardian''s own bound account read '
  'the rows through the Data API; only functions write them (invitation, approval, consent, '
  'preferences, revocation).';

comment on table public.idempotency_keys is
  'Outcomes of start-session per (user, key), written only by the function itself; a user reads '
  'their own keys and writes none.';

comment on table public.session_participants is
  'Who joined a session (webhook, service_role). Only the streamer reads their sessions'' rows.';
