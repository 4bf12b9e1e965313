-- The one-statement operations (private.user_* in 20261201000000_one_statement_operations.sql,
-- redefined since as supabase/README.md says, and private.webhook_apply): nobody but their
-- owner may call them, they become the user of the claims they are given (so RLS decides as
-- inside asUser), they refuse claims without a user id, and they decide the contract's cases.
begin;
create extension if not exists pgtap;
select plan(17);

-- owner aaaaaaaa… (live session), other streamer bbbbbbbb… (live), active guardian of the
-- owner cccccccc…, stranger dddddddd…
insert into auth.users (id, email, email_confirmed_at)
values
  ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'owner@one.test', now()),
  ('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'other@one.test', now()),
  ('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 'guardian@one.test', now()),
  ('dddddddd-dddd-4ddd-8ddd-dddddddddddd', 'stranger@one.test', now());

insert into public.guardians (id, streamer_id, email, name, status, confirmed_at, user_id)
values ('ac000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
  'guardian@one.test', 'Gran', 'active', now(), 'cccccccc-cccc-4ccc-8ccc-cccccccccccc');

insert into public.stream_sessions (id, streamer_id, room_name, status, started_at, record)
values
  ('a5000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
    'session-a5000000-0000-4000-8000-000000000001', 'live', now() - interval '1 minute', false),
  ('b5000000-0000-4000-8000-000000000001', 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb',
    'session-b5000000-0000-4000-8000-000000000001', 'live', now(), false);

select ok(
  not exists (
    select 1
      from pg_proc p, unnest(array['anon', 'authenticated', 'service_role']) as r(role)
     where p.pronamespace = 'private'::regnamespace
       and p.proname in ('act_as_user', 'act_as_service', 'user_active_sessions',
                         'user_session_access', 'user_end_session', 'user_start_session',
                         'webhook_apply')
       and has_function_privilege(r.role, p.oid, 'execute')
  ),
  'no API role may call the functions that take claims or become a role'
);
select ok(
  not exists (
    select 1 from pg_proc
     where pronamespace = 'private'::regnamespace and prosecdef
       and proname in ('act_as_user', 'user_active_sessions', 'user_session_access',
                       'user_end_session', 'user_start_session', 'webhook_apply')
  ),
  'they are security invoker, so the role they set is the one that runs their queries'
);

select throws_ok(
  $$select private.act_as_user('{"role":"authenticated"}')$$,
  '22023', null,
  'claims without a user id are refused'
);
select throws_ok(
  $$select private.act_as_user('not json')$$,
  '22023', null,
  'claims that are not JSON are refused'
);

-- streams' list ------------------------------------------------------------------------------
select is(
  (select array_agg(id) from private.user_active_sessions(
    '{"sub":"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa","role":"authenticated"}', 100)),
  array['a5000000-0000-4000-8000-000000000001'::uuid],
  'the owner lists their own live session'
);
reset role;
select is(
  (select array_agg(id) from private.user_active_sessions(
    '{"sub":"cccccccc-cccc-4ccc-8ccc-cccccccccccc","role":"authenticated"}', 100)),
  array['a5000000-0000-4000-8000-000000000001'::uuid],
  'the guardian lists the session of the streamer who named them, and no other'
);
reset role;
select is(
  (select count(*)::int from private.user_active_sessions(
    '{"sub":"dddddddd-dddd-4ddd-8ddd-dddddddddddd","role":"authenticated"}', 100)),
  0,
  'a stranger lists nothing'
);
select is(current_user::text, 'authenticated', 'the statement''s transaction became the user''s');
select is(current_setting('lock_timeout'), '8s', 'with its lock waits bounded');
reset role;

-- livekit-token's access -------------------------------------------------------------------------
select is(
  (select (session ->> 'id', guardian_id, guardian_name)::text from private.user_session_access(
    '{"sub":"cccccccc-cccc-4ccc-8ccc-cccccccccccc","role":"authenticated"}',
    'a5000000-0000-4000-8000-000000000001', 'one-test:c', 60, 60, now())),
  '(a5000000-0000-4000-8000-000000000001,ac000000-0000-4000-8000-000000000001,Gran)',
  'the guardian sees the session with their guardianship'
);
reset role;
select is(
  (select session from private.user_session_access(
    '{"sub":"dddddddd-dddd-4ddd-8ddd-dddddddddddd","role":"authenticated"}',
    'a5000000-0000-4000-8000-000000000001', 'one-test:d', 60, 60, now())),
  null,
  'a stranger sees no session'
);
reset role;
-- Two calls, each its own statement as in production (the first leaves the transaction the
-- user's, so each is followed by reset role here).
select private.user_session_access(
  '{"sub":"dddddddd-dddd-4ddd-8ddd-dddddddddddd","role":"authenticated"}',
  'a5000000-0000-4000-8000-000000000001', 'one-test:limit', 2, 60, now());
reset role;
select private.user_session_access(
  '{"sub":"dddddddd-dddd-4ddd-8ddd-dddddddddddd","role":"authenticated"}',
  'a5000000-0000-4000-8000-000000000001', 'one-test:limit', 2, 60, now());
reset role;
select is(
  (select (allowed, retry_after_seconds > 0)::text from private.user_session_access(
    '{"sub":"dddddddd-dddd-4ddd-8ddd-dddddddddddd","role":"authenticated"}',
    'a5000000-0000-4000-8000-000000000001', 'one-test:limit', 2, 60, now())),
  '(f,t)',
  'the rate limit counts every call and refuses past its limit, with a retry time'
);
reset role;

-- end-session ----------------------------------------------------------------------------------
select is(
  (select outcome from private.user_end_session(
    '{"sub":"dddddddd-dddd-4ddd-8ddd-dddddddddddd","role":"authenticated"}',
    'a5000000-0000-4000-8000-000000000001', now())),
  'not_found',
  'a stranger cannot see the session to end it'
);
reset role;
select is(
  (select outcome from private.user_end_session(
    '{"sub":"cccccccc-cccc-4ccc-8ccc-cccccccccccc","role":"authenticated"}',
    'a5000000-0000-4000-8000-000000000001', now())),
  'forbidden',
  'a guardian sees the session but may not end it'
);
reset role;
select is(
  (select session ->> 'status' from private.user_end_session(
    '{"sub":"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa","role":"authenticated"}',
    'a5000000-0000-4000-8000-000000000001', now())),
  'ended',
  'the owner ends it'
);
reset role;
select is(
  (select (status, end_reason, duration_seconds >= 59)::text from public.stream_sessions
    where id = 'a5000000-0000-4000-8000-000000000001'),
  '(ended,streamer_ended,t)',
  'ended by the streamer, with its duration'
);
select is(
  (select status from public.stream_sessions where id = 'b5000000-0000-4000-8000-000000000001'),
  'live',
  'the other streamer''s session is untouched'
);

select * from finish();
rollback;
