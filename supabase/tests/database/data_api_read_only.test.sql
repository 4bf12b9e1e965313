-- The Data API writes nothing (API.md, "Who may see a child": every write goes through a
-- function). anon and authenticated hold no insert, update, delete or truncate on any table of
-- schema public, at table or column level, and no write policy is left; then the attacks that
-- worked through PostgREST are replayed as PostgREST runs them (role authenticated with
-- request.jwt.claims) and each is refused.
begin;
create extension if not exists pgtap;
select plan(16);

-- Grants and policies, for every table ------------------------------------------------------

select is(
  array(
    select format('%s %s %s', r.rolname, c.relname, p.privilege)
      from pg_class c
      cross join (values ('anon'), ('authenticated')) as r (rolname)
      cross join (values ('INSERT'), ('UPDATE'), ('DELETE'), ('TRUNCATE')) as p (privilege)
     where c.relnamespace = 'public'::regnamespace
       and c.relkind in ('r', 'p', 'v', 'm', 'f')
       and has_table_privilege(r.rolname, c.oid, p.privilege)
     order by 1
  ),
  '{}'::text[],
  'anon and authenticated hold no insert, update, delete or truncate on any public table'
);

select is(
  array(
    select format('%s %s.%s %s', grantee, table_name, column_name, privilege_type)
      from information_schema.column_privileges
     where table_schema = 'public'
       and grantee in ('anon', 'authenticated', 'PUBLIC')
       and privilege_type in ('INSERT', 'UPDATE', 'REFERENCES')
     order by 1
  ),
  '{}'::text[],
  'anon and authenticated hold no column-level insert or update on any public table'
);

select is(
  array(
    select format('%s %s', tablename, policyname)
      from pg_policies
     where schemaname = 'public' and cmd <> 'SELECT'
     order by 1
  ),
  '{}'::text[],
  'no public table has an insert, update, delete or all policy'
);

select is(
  array(
    select c.relname::text
      from pg_class c
     where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p')
       and not c.relrowsecurity
     order by 1
  ),
  '{}'::text[],
  'row level security is on for every public table'
);

-- A table created later by the migration role gets no write grant for the Data API roles.
create table public.data_api_probe (id integer);
select ok(
  not has_table_privilege('authenticated', 'public.data_api_probe', 'INSERT')
    and not has_table_privilege('anon', 'public.data_api_probe', 'INSERT'),
  'a table created later gets no insert grant for anon or authenticated'
);
drop table public.data_api_probe;

-- Fixtures, as postgres ---------------------------------------------------------------------
-- streamer aaaaaaaa…, active guardian cccccccc…, viewer of the session eeeeeeee…
insert into auth.users (id, email, email_confirmed_at)
values
  ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'owner@rls.test', now()),
  ('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 'guardian@rls.test', now()),
  ('eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee', 'viewer@rls.test', now());

insert into public.guardians (id, streamer_id, email, status, confirmed_at, user_id)
values
  ('ac000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
    'guardian@rls.test', 'active', now(), 'cccccccc-cccc-4ccc-8ccc-cccccccccccc'),
  ('ac000000-0000-4000-8000-000000000002', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
    'viewer@rls.test', 'active', now(), 'eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee');

insert into public.stream_sessions (id, streamer_id, status, room_name, record, started_at)
values ('5e000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'live',
  'session-5e000000-0000-4000-8000-000000000001', false, now());

insert into public.session_participants (session_id, participant_sid, identity, kind, guardian_id,
  joined_at)
values ('5e000000-0000-4000-8000-000000000001', 'PA_viewer',
  'guardian:ac000000-0000-4000-8000-000000000002', 'viewer', 'ac000000-0000-4000-8000-000000000002',
  now());

insert into public.recordings (id, session_id, streamer_id, source, status, object_path,
  content_type, expected_size_bytes)
values ('7e000000-0000-4000-8000-000000000001', '5e000000-0000-4000-8000-000000000001',
  'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'upload', 'uploading',
  'recordings/aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa/5e000000-0000-4000-8000-000000000001/u.mp4',
  'video/mp4', 1000);

-- The attacks, as PostgREST runs them --------------------------------------------------------

set local role authenticated;
select set_config('request.jwt.claims',
  '{"sub":"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa","role":"authenticated"}', true);

select throws_ok(
  $$insert into public.stream_sessions (streamer_id, room_name, created_at)
    values ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'any-room-i-like', '2999-01-01')$$,
  '42501', null,
  'a streamer cannot insert a session with a room name and a creation time of its choice'
);

select throws_ok(
  $$update public.guardians set notify_stream_started = true, notify_recording_ready = true$$,
  '42501', null,
  'a streamer cannot turn an unsubscribed guardian''s emails back on'
);

select throws_ok(
  $$insert into public.guardians (streamer_id, email, status, confirmed_at)
    values ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'me-again@rls.test', 'active', now())$$,
  '42501', null,
  'a streamer cannot invite or activate a guardian (skipping approval, consent and the limit)'
);

select throws_ok(
  $$update public.recordings set status = 'ready', size_bytes = 1, ready_at = now()$$,
  '42501', null,
  'a streamer cannot mark its upload ready (which would queue emails) without the function'
);

select throws_ok(
  $$update public.stream_sessions set status = 'ended', ended_at = now(),
      end_reason = 'streamer_ended'$$,
  '42501', null,
  'a streamer cannot end or rewrite a session through the Data API'
);

select set_config('request.jwt.claims',
  '{"sub":"cccccccc-cccc-4ccc-8ccc-cccccccccccc","role":"authenticated"}', true);

select throws_ok(
  $$insert into public.idempotency_keys (user_id, operation, key, request_hash, status_code,
      response, expires_at)
    values ('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 'start-session', 'planted-key-0001', 'x', 201,
      '{"sessionId":"5e000000-0000-4000-8000-000000000001"}', now() + interval '1 day')$$,
  '42501', null,
  'a guardian cannot plant an idempotency key that names the child''s session'
);

select throws_ok(
  $$update public.recordings set status = 'deleted', deleted_at = now()$$,
  '42501', null,
  'a guardian cannot mark a recording deleted while its object stays'
);

select throws_ok(
  $$delete from public.recordings$$,
  '42501', null,
  'a guardian cannot delete recording rows'
);

select is(
  (select count(*)::integer from public.stream_sessions),
  1,
  'the guardian still reads the session of the streamer it guards'
);

select is(
  (select count(*)::integer from public.session_participants),
  0,
  'the guardian does not see who else watched (no other viewer''s id)'
);

reset role;
select set_config('request.jwt.claims', '', true);

select is(
  (select status from public.recordings where id = '7e000000-0000-4000-8000-000000000001'),
  'uploading',
  'the recording was left as it was'
);

select * from finish();
rollback;
