-- Sessions after the Data API closed for writes (20261206010000_session_safety.sql): the
-- PostgREST attacks on sessions and idempotency keys fail, a session's room is its own, a key
-- replays only its own user's session and keeps no refusal, and the one-statement operations
-- check the caller themselves and still work without any user write grant.
begin;
create extension if not exists pgtap;
select plan(20);

-- child (streamer) aaaaaaaa…, their active guardian cccccccc… (bound account), a stranger
-- dddddddd…; the child's live session.
insert into auth.users (id, email, email_confirmed_at)
values
  ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'child@safety.test', now()),
  ('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 'guardian@safety.test', now()),
  ('dddddddd-dddd-4ddd-8ddd-dddddddddddd', 'stranger@safety.test', now());

insert into public.guardians (id, streamer_id, email, name, status, confirmed_at, user_id)
values ('ac000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
  'guardian@safety.test', 'Gran', 'active', now(), 'cccccccc-cccc-4ccc-8ccc-cccccccccccc');

insert into public.stream_sessions (id, streamer_id, room_name, status, started_at, record)
values ('a5000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
  'session-a5000000-0000-4000-8000-000000000001', 'live', now(), false);

create function pg_temp.violation(p_sql text) returns text
language plpgsql
as $$
declare
  v_state text;
  v_constraint text;
begin
  execute p_sql;
  return 'no error';
exception
  when others then
    get stacked diagnostics v_state = returned_sqlstate, v_constraint = constraint_name;
    return v_state || ' ' || coalesce(nullif(v_constraint, ''), '-');
end
$$;

-- The Data API, as PostgREST sets it up for the guardian ------------------------------------
set local role authenticated;
select set_config('request.jwt.claims',
  '{"sub":"cccccccc-cccc-4ccc-8ccc-cccccccccccc","role":"authenticated"}', true);

select is(
  pg_temp.violation($$
    insert into public.idempotency_keys
      (user_id, operation, key, request_hash, response, status_code, expires_at)
    values ('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 'start-session', 'planted-key-0001', 'h',
      '{"sessionId":"a5000000-0000-4000-8000-000000000001"}', 201, now() + interval '1 day') $$),
  '42501 -',
  'a guardian cannot plant an idempotency key pointing at the child''s session'
);
select is(
  pg_temp.violation($$
    update public.idempotency_keys set response = '{"sessionId":"a5000000-0000-4000-8000-000000000001"}' $$),
  '42501 -',
  'nor rewrite one'
);
select is(
  pg_temp.violation($$
    insert into public.stream_sessions (streamer_id, room_name, created_at)
    values ('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 'any-room-i-like', '2999-01-01') $$),
  '42501 -',
  'a user cannot insert a session with a room of their choice'
);
reset role;

-- Rows a superuser writes (what a user could have written before the lockdown) --------------
select is(
  pg_temp.violation($$
    insert into public.stream_sessions (streamer_id, room_name, record)
    values ('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 'session-a5000000-0000-4000-8000-000000000001',
      false) $$),
  '23514 stream_sessions_room_name_is_session',
  'a session''s room can only be session-{id}: not another session''s room'
);
select is(
  pg_temp.violation($$
    update public.stream_sessions set room_name = 'any-room-i-like'
     where id = 'a5000000-0000-4000-8000-000000000001' $$),
  '23514 stream_sessions_room_name_is_session',
  'nor any other name, afterwards either'
);
select is(
  pg_temp.violation($$
    insert into public.idempotency_keys
      (user_id, operation, key, request_hash, expires_at, session_id)
    values ('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 'start-session', 'planted-key-0002', 'h',
      now() + interval '1 day', 'a5000000-0000-4000-8000-000000000001') $$),
  '23503 idempotency_keys_session_owned_fkey',
  'a key''s session must be its own user''s'
);

-- A key row in the old shape (only response names the session), planted for the guardian.
insert into public.idempotency_keys
  (user_id, operation, key, request_hash, response, status_code, expires_at)
values ('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 'start-session', 'planted-key-0003', 'same-hash',
  '{"sessionId":"a5000000-0000-4000-8000-000000000001"}', 201, now() + interval '1 day');

-- start-session ------------------------------------------------------------------------------
select is(
  (select (outcome, session ->> 'streamer_id', session ->> 'room_name')::text
     from private.user_start_session(
       p_claims => '{"sub":"cccccccc-cccc-4ccc-8ccc-cccccccccccc","role":"authenticated"}',
       p_rate_key => 'safety:start:c', p_rate_limit => 10, p_rate_window_seconds => 60,
       p_idempotency_key => 'planted-key-0003', p_request_hash => 'same-hash',
       p_key_expires_at => now() + interval '1 day',
       p_session_id => 'c5000000-0000-4000-8000-000000000001',
       p_room_name => 'session-c5000000-0000-4000-8000-000000000001',
       p_title => null, p_record => false, p_client => '{}', p_now => now())),
  '(created,cccccccc-cccc-4ccc-8ccc-cccccccccccc,session-c5000000-0000-4000-8000-000000000001)',
  'a planted key replays nothing: the guardian''s request starts their own session'
);
reset role;
select is(
  (select session_id from public.idempotency_keys where key = 'planted-key-0003'),
  'c5000000-0000-4000-8000-000000000001'::uuid,
  'and the key now holds that session'
);
select is(
  (select (outcome, session ->> 'id')::text from private.user_start_session(
     p_claims => '{"sub":"cccccccc-cccc-4ccc-8ccc-cccccccccccc","role":"authenticated"}',
     p_rate_key => 'safety:start:c', p_rate_limit => 10, p_rate_window_seconds => 60,
     p_idempotency_key => 'planted-key-0003', p_request_hash => 'same-hash',
     p_key_expires_at => now() + interval '1 day',
     p_session_id => 'c5000000-0000-4000-8000-000000000002',
     p_room_name => 'session-c5000000-0000-4000-8000-000000000002',
     p_title => null, p_record => false, p_client => '{}', p_now => now())),
  '(replay,c5000000-0000-4000-8000-000000000001)',
  'its replay is the session it created'
);
reset role;
select is(
  (select outcome from private.user_start_session(
     p_claims => '{"sub":"cccccccc-cccc-4ccc-8ccc-cccccccccccc","role":"authenticated"}',
     p_rate_key => 'safety:start:c', p_rate_limit => 10, p_rate_window_seconds => 60,
     p_idempotency_key => 'another-key-0001', p_request_hash => 'other-hash',
     p_key_expires_at => now() + interval '1 day',
     p_session_id => 'c5000000-0000-4000-8000-000000000003',
     p_room_name => 'session-c5000000-0000-4000-8000-000000000003',
     p_title => null, p_record => false, p_client => '{}', p_now => now())),
  'already_live',
  'a second start while one is starting is refused'
);
reset role;
select is(
  (select count(*)::int from public.idempotency_keys where key = 'another-key-0001'),
  0,
  'and the refusal stores no outcome: the key stays free'
);
select is(
  (select outcome from private.user_start_session(
     p_claims => '{"sub":"eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee","role":"authenticated"}',
     p_rate_key => 'safety:start:e', p_rate_limit => 10, p_rate_window_seconds => 60,
     p_idempotency_key => null, p_request_hash => 'h',
     p_key_expires_at => now() + interval '1 day',
     p_session_id => 'e5000000-0000-4000-8000-000000000001',
     p_room_name => 'session-e5000000-0000-4000-8000-000000000001',
     p_title => null, p_record => false, p_client => '{}', p_now => now())),
  'unknown_user',
  'a sub that is no user starts nothing'
);
reset role;
select throws_ok(
  $$select * from private.user_start_session(
     p_claims => '{"sub":"dddddddd-dddd-4ddd-8ddd-dddddddddddd","role":"authenticated"}',
     p_rate_key => 'safety:start:d', p_rate_limit => 10, p_rate_window_seconds => 60,
     p_idempotency_key => null, p_request_hash => 'h',
     p_key_expires_at => now() + interval '1 day',
     p_session_id => 'd5000000-0000-4000-8000-000000000001',
     p_room_name => 'any-room-i-like',
     p_title => null, p_record => false, p_client => '{}', p_now => now())$$,
  '22023', null,
  'start-session''s statement refuses a room that is not session-{id}'
);
reset role;

-- livekit-token -----------------------------------------------------------------------------
select is(
  (select (session ->> 'id', guardian_id, known_user)::text from private.user_session_access(
     p_claims => '{"sub":"cccccccc-cccc-4ccc-8ccc-cccccccccccc","role":"authenticated"}',
     p_session_id => 'a5000000-0000-4000-8000-000000000001', p_rate_name => 'safety-token',
     p_rate_limit => 60, p_rate_window_seconds => 60, p_now => now())),
  '(a5000000-0000-4000-8000-000000000001,ac000000-0000-4000-8000-000000000001,t)',
  'the guardian''s account sees the child''s session with their guardianship'
);
reset role;
select is(
  (select hits from public.rate_limit_buckets
    where key = 'safety-token:guardian:ac000000-0000-4000-8000-000000000001'),
  1,
  'counted in the guardian''s bucket, the one the link door counts in too'
);
select is(
  (select (session, guardian_id)::text from private.user_session_access(
     p_claims => '{"sub":"dddddddd-dddd-4ddd-8ddd-dddddddddddd","role":"authenticated"}',
     p_session_id => 'a5000000-0000-4000-8000-000000000001', p_rate_name => 'safety-token',
     p_rate_limit => 60, p_rate_window_seconds => 60, p_now => now())),
  '(,)',
  'a stranger sees nothing'
);
reset role;
select is(
  (select hits from public.rate_limit_buckets
    where key = 'safety-token:user:dddddddd-dddd-4ddd-8ddd-dddddddddddd'),
  1,
  'counted in their own bucket'
);
select is(
  (select known_user from private.user_session_access(
     p_claims => '{"sub":"eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee","role":"authenticated"}',
     p_session_id => 'a5000000-0000-4000-8000-000000000001', p_rate_name => 'safety-token',
     p_rate_limit => 60, p_rate_window_seconds => 60, p_now => now())),
  false,
  'a sub that is no user is told apart'
);
reset role;

-- end-session -------------------------------------------------------------------------------
select is(
  (select outcome from private.user_end_session(
     '{"sub":"eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee","role":"authenticated"}',
     'a5000000-0000-4000-8000-000000000001', now())),
  'unknown_user',
  'a sub that is no user ends nothing'
);
reset role;
select is(
  (select session ->> 'status' from private.user_end_session(
     '{"sub":"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa","role":"authenticated"}',
     'a5000000-0000-4000-8000-000000000001', now())),
  'ended',
  'the owner still ends their session, with no write grant of their own'
);
reset role;

select * from finish();
rollback;
