-- The session read functions (private.session_by_id, active_session_of, active_sessions_for)
-- are security invoker: they show exactly what RLS on stream_sessions shows the caller, even
-- when the caller names another user, and anon may not call them.
begin;
create extension if not exists pgtap;
select plan(13);

-- owner aaaaaaaa… (live session), other streamer bbbbbbbb… (live), active guardian of the
-- owner cccccccc…, stranger dddddddd…
insert into auth.users (id, email, email_confirmed_at)
values
  ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'owner@reads.test', now()),
  ('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'other@reads.test', now()),
  ('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 'guardian@reads.test', now()),
  ('dddddddd-dddd-4ddd-8ddd-dddddddddddd', 'stranger@reads.test', now());

-- The guardian's account is bound (by proof, never by email).
insert into public.guardians (id, streamer_id, email, status, confirmed_at, user_id)
values ('ac000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
  'guardian@reads.test', 'active', now(), 'cccccccc-cccc-4ccc-8ccc-cccccccccccc');

insert into public.stream_sessions (id, streamer_id, room_name, status, started_at, record)
values
  ('a5000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
    'session-a5000000-0000-4000-8000-000000000001', 'live', now(), true),
  ('b5000000-0000-4000-8000-000000000001', 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb',
    'session-b5000000-0000-4000-8000-000000000001', 'live', now(), false);

select ok(
  not exists (
    select 1 from pg_proc
     where pronamespace = 'private'::regnamespace and prosecdef
       and proname in ('session_by_id', 'active_session_of', 'active_sessions_for')
  ),
  'the session read functions are security invoker'
);
select ok(
  not has_function_privilege('anon', 'private.session_by_id(uuid)', 'execute')
  and not has_function_privilege('anon', 'private.active_session_of(uuid)', 'execute')
  and not has_function_privilege('anon', 'private.active_sessions_for(uuid, integer)', 'execute')
  and not has_table_privilege('anon', 'private.session_listings', 'select'),
  'anon may not call the session read functions'
);

-- the owner ---------------------------------------------------------------------------------
set local role authenticated;
select set_config('request.jwt.claims',
  '{"sub":"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa","role":"authenticated"}', true);

select is(
  (select recording_status from private.session_by_id('a5000000-0000-4000-8000-000000000001')),
  'pending',
  'the owner reads their session, with its pending recording'
);
select is(
  (select count(*)::int from private.session_by_id('b5000000-0000-4000-8000-000000000001')),
  0,
  'the owner does not read another streamer''s session'
);
select is(
  (select array_agg(id) from private.active_sessions_for('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 100)),
  array['a5000000-0000-4000-8000-000000000001'::uuid],
  'the owner lists their own live session'
);
select is(
  (select count(*)::int from private.active_sessions_for('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 100)),
  0,
  'naming another streamer lists nothing of theirs'
);
select is(
  (select count(*)::int from private.active_session_of('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb')),
  0,
  'the other streamer''s active session stays hidden'
);
select is(
  (select id from private.active_session_of('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa')),
  'a5000000-0000-4000-8000-000000000001'::uuid,
  'the owner finds their active session'
);

-- the active guardian -----------------------------------------------------------------------
select set_config('request.jwt.claims',
  '{"sub":"cccccccc-cccc-4ccc-8ccc-cccccccccccc","role":"authenticated"}', true);

select is(
  (select array_agg(id) from private.active_sessions_for('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 100)),
  array['a5000000-0000-4000-8000-000000000001'::uuid],
  'the guardian lists the live session of the streamer who named them'
);
select is(
  (select count(*)::int from private.session_by_id('b5000000-0000-4000-8000-000000000001')),
  0,
  'the guardian does not read sessions of streamers who did not name them'
);

-- a stranger --------------------------------------------------------------------------------
select set_config('request.jwt.claims',
  '{"sub":"dddddddd-dddd-4ddd-8ddd-dddddddddddd","role":"authenticated"}', true);

select is(
  (select count(*)::int from private.active_sessions_for('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 100)),
  0,
  'a stranger naming the guardian lists nothing'
);
select is(
  (select count(*)::int from private.session_by_id('a5000000-0000-4000-8000-000000000001')),
  0,
  'a stranger does not read the session'
);

-- service_role ------------------------------------------------------------------------------
reset role;
set local role service_role;
select set_config('request.jwt.claims', '{"role":"service_role"}', true);

select is(
  (select count(*)::int from private.session_by_id('b5000000-0000-4000-8000-000000000001')),
  1,
  'service_role reads any session'
);

select * from finish();
rollback;
