-- private.undo_session_start (20261206080000_session_start_undo.sql): start-session takes back
-- a start whose LiveKit room could not be created. Only a session still starting, only the
-- given streamer's; its pending recording and idempotency key go with it; no API role calls it.
begin;
create extension if not exists pgtap;
select plan(8);

insert into auth.users (id, email, email_confirmed_at)
values
  ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'child@undo.test', now()),
  ('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'other@undo.test', now());

select is(
  (select outcome from private.user_start_session(
     p_claims => '{"sub":"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa","role":"authenticated"}',
     p_rate_key => 'undo:a', p_rate_limit => 10, p_rate_window_seconds => 60,
     p_idempotency_key => 'undo-key-0001', p_request_hash => 'h',
     p_key_expires_at => now() + interval '1 day',
     p_session_id => 'a5000000-0000-4000-8000-000000000001',
     p_room_name => 'session-a5000000-0000-4000-8000-000000000001',
     p_title => null, p_record => true, p_client => '{}', p_now => now())),
  'created',
  'a start commits a starting session'
);
reset role;

select is(
  private.undo_session_start(
    p_session_id => 'a5000000-0000-4000-8000-000000000001',
    p_streamer_id => 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb'),
  false,
  'another streamer''s id takes nothing back'
);
reset role;

select is(
  private.undo_session_start(
    p_session_id => 'a5000000-0000-4000-8000-000000000001',
    p_streamer_id => 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'),
  true,
  'the streamer''s starting session is taken back'
);
reset role;

select is(
  (select count(*)::int from public.stream_sessions
    where id = 'a5000000-0000-4000-8000-000000000001')
  + (select count(*)::int from public.recordings
      where session_id = 'a5000000-0000-4000-8000-000000000001'),
  0,
  'with its pending recording'
);
select is(
  (select count(*)::int from public.idempotency_keys where key = 'undo-key-0001'),
  0,
  'and its idempotency key, which is free again'
);

insert into public.stream_sessions (id, streamer_id, room_name, status, started_at, record)
values ('a5000000-0000-4000-8000-000000000002', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
  'session-a5000000-0000-4000-8000-000000000002', 'live', now(), false);

select is(
  private.undo_session_start(
    p_session_id => 'a5000000-0000-4000-8000-000000000002',
    p_streamer_id => 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'),
  false,
  'a session a webhook made live stays'
);
reset role;
select is(
  (select status from public.stream_sessions where id = 'a5000000-0000-4000-8000-000000000002'),
  'live',
  'and is still live'
);

select ok(
  not exists (
    select 1 from unnest(array['anon', 'authenticated', 'service_role']) as r(role)
     where has_function_privilege(r.role,
       'private.undo_session_start(uuid, uuid)'::regprocedure, 'execute')
  ),
  'no API role may call it'
);

select * from finish();
rollback;
