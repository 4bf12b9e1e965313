-- RLS matrix for public.stream_sessions: anon, the owning streamer, another streamer, an
-- active guardian with an account, a revoked guardian and service_role, each trying select,
-- insert, update and delete. Through the Data API users only read: start-session and
-- end-session write through owner-only functions (20261206000000_data_api_read_only.sql).
begin;
create extension if not exists pgtap;
select plan(28);

-- Fixtures, as postgres ---------------------------------------------------------------------
-- owner aaaaaaaa…, other streamer bbbbbbbb…, active guardian cccccccc…, revoked dddddddd…
insert into auth.users (id, email, email_confirmed_at)
values
  ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'owner@rls.test', now()),
  ('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'other@rls.test', now()),
  ('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 'guardian@rls.test', now()),
  ('dddddddd-dddd-4ddd-8ddd-dddddddddddd', 'revoked@rls.test', now());

insert into public.guardians (id, streamer_id, email, status, confirmed_at, revoked_at)
values
  ('ac000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
    'guardian@rls.test', 'active', now(), null),
  ('de000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
    'revoked@rls.test', 'revoked', now(), now());

-- Accounts are bound to guardian rows by proof (private.guardian_bind_account), never by email:
-- the fixture binds each account with a guardian row here.
update public.guardians g set user_id = u.id
  from auth.users u
 where u.email = g.email and g.streamer_id = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';

insert into public.stream_sessions
  (id, streamer_id, room_name, status, started_at, ended_at, end_reason, record)
values
  ('a5000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
    'session-a5000000-0000-4000-8000-000000000001', 'ended', now(), now(), 'streamer_ended', false),
  ('b5000000-0000-4000-8000-000000000001', 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb',
    'session-b5000000-0000-4000-8000-000000000001', 'live', now(), null, null, false),
  ('a5000000-0000-4000-8000-000000000002', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
    'session-a5000000-0000-4000-8000-000000000002', 'starting', null, null, null, false);

-- Runs a statement and returns how many rows it changed, as the current role.
create function pg_temp.row_count(p_sql text) returns integer
language plpgsql
as $$
declare
  v_count integer;
begin
  execute p_sql;
  get diagnostics v_count = row_count;
  return v_count;
end
$$;

select is(
  (select user_id from public.guardians where id = 'ac000000-0000-4000-8000-000000000001'),
  'cccccccc-cccc-4ccc-8ccc-cccccccccccc'::uuid,
  'fixture: the active guardian row is linked to the guardian''s account'
);

-- anon ------------------------------------------------------------------------------------
set local role anon;
select set_config('request.jwt.claims', '{"role":"anon"}', true);

select throws_ok(
  $$ select * from public.stream_sessions $$,
  '42501', 'permission denied for table stream_sessions',
  'anon cannot select sessions'
);
select throws_ok(
  $$ insert into public.stream_sessions (streamer_id, room_name)
     values ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'rls-anon') $$,
  '42501', 'permission denied for table stream_sessions',
  'anon cannot insert sessions'
);
select throws_ok(
  $$ update public.stream_sessions set title = 'anon' $$,
  '42501', 'permission denied for table stream_sessions',
  'anon cannot update sessions'
);
select throws_ok(
  $$ delete from public.stream_sessions $$,
  '42501', 'permission denied for table stream_sessions',
  'anon cannot delete sessions'
);

-- the owning streamer ---------------------------------------------------------------------
reset role;
set local role authenticated;
select set_config('request.jwt.claims',
  '{"sub":"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa","role":"authenticated"}', true);

select results_eq(
  $$ select id from public.stream_sessions order by id $$,
  array['a5000000-0000-4000-8000-000000000001'::uuid, 'a5000000-0000-4000-8000-000000000002'],
  'the owner sees their own sessions and no one else''s'
);
select throws_ok(
  $$ insert into public.stream_sessions (id, streamer_id, room_name, status, record)
     values ('a5000000-0000-4000-8000-000000000003', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
       'session-a5000000-0000-4000-8000-000000000003', 'starting', false) $$,
  '42501', 'permission denied for table stream_sessions',
  'the owner cannot create a session through the Data API (start-session does)'
);
select throws_ok(
  $$ insert into public.stream_sessions (streamer_id, room_name, status)
     values ('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'rls-owner-for-other', 'starting') $$,
  '42501', 'permission denied for table stream_sessions',
  'the owner cannot create a session for another streamer'
);
select throws_ok(
  $$ insert into public.stream_sessions (streamer_id, room_name, status, record)
     values ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'rls-owner-second', 'ended', false) $$,
  '42501', null,
  'the owner cannot create a session in another status than starting'
);
select throws_ok(
  $$ update public.stream_sessions set title = 'Renamed', updated_at = now()
     where id = 'a5000000-0000-4000-8000-000000000001' $$,
  '42501', 'permission denied for table stream_sessions',
  'the owner cannot update their session through the Data API (end-session does)'
);
select throws_ok(
  $$ update public.stream_sessions set viewers_total = 99
     where id = 'a5000000-0000-4000-8000-000000000001' $$,
  '42501', null,
  'the owner cannot update viewer counts'
);
select throws_ok(
  $$ delete from public.stream_sessions where id = 'a5000000-0000-4000-8000-000000000001' $$,
  '42501', 'permission denied for table stream_sessions',
  'the owner cannot delete their session'
);

-- another streamer ------------------------------------------------------------------------
select set_config('request.jwt.claims',
  '{"sub":"bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb","role":"authenticated"}', true);

select results_eq(
  $$ select id from public.stream_sessions order by id $$,
  array['b5000000-0000-4000-8000-000000000001'::uuid],
  'another streamer sees only their own session'
);
select throws_ok(
  $$ insert into public.stream_sessions (streamer_id, room_name, status)
     values ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'rls-other-for-owner', 'starting') $$,
  '42501', 'permission denied for table stream_sessions',
  'another streamer cannot create a session for the owner'
);
select throws_ok(
  $$ update public.stream_sessions set title = 'Hijacked'
     where id = 'a5000000-0000-4000-8000-000000000001' $$,
  '42501', 'permission denied for table stream_sessions',
  'another streamer cannot update the owner''s session'
);
select throws_ok(
  $$ delete from public.stream_sessions where id = 'a5000000-0000-4000-8000-000000000001' $$,
  '42501', 'permission denied for table stream_sessions',
  'another streamer cannot delete the owner''s session'
);

-- an active guardian ----------------------------------------------------------------------
select set_config('request.jwt.claims',
  '{"sub":"cccccccc-cccc-4ccc-8ccc-cccccccccccc","role":"authenticated"}', true);

select results_eq(
  $$ select id from public.stream_sessions order by id $$,
  array['a5000000-0000-4000-8000-000000000001'::uuid, 'a5000000-0000-4000-8000-000000000002'],
  'an active guardian sees the sessions of the streamer they guard, and no others'
);
select throws_ok(
  $$ insert into public.stream_sessions (streamer_id, room_name, status)
     values ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'rls-guardian-for-owner', 'starting') $$,
  '42501', 'permission denied for table stream_sessions',
  'an active guardian cannot create a session for the streamer'
);
select throws_ok(
  $$ update public.stream_sessions set title = 'Guardian title'
     where id = 'a5000000-0000-4000-8000-000000000001' $$,
  '42501', 'permission denied for table stream_sessions',
  'an active guardian cannot update the streamer''s session'
);
select throws_ok(
  $$ delete from public.stream_sessions where id = 'a5000000-0000-4000-8000-000000000001' $$,
  '42501', 'permission denied for table stream_sessions',
  'an active guardian cannot delete the streamer''s session'
);

-- a revoked guardian ----------------------------------------------------------------------
select set_config('request.jwt.claims',
  '{"sub":"dddddddd-dddd-4ddd-8ddd-dddddddddddd","role":"authenticated"}', true);

select is_empty(
  $$ select id from public.stream_sessions $$,
  'a revoked guardian sees no sessions'
);
select throws_ok(
  $$ insert into public.stream_sessions (streamer_id, room_name, status)
     values ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'rls-revoked-for-owner', 'starting') $$,
  '42501', 'permission denied for table stream_sessions',
  'a revoked guardian cannot create a session for the streamer'
);
select throws_ok(
  $$ update public.stream_sessions set title = 'Revoked title'
     where id = 'a5000000-0000-4000-8000-000000000001' $$,
  '42501', 'permission denied for table stream_sessions',
  'a revoked guardian cannot update the streamer''s session'
);
select throws_ok(
  $$ delete from public.stream_sessions where id = 'a5000000-0000-4000-8000-000000000001' $$,
  '42501', 'permission denied for table stream_sessions',
  'a revoked guardian cannot delete the streamer''s session'
);

-- service_role ----------------------------------------------------------------------------
reset role;
set local role service_role;
select set_config('request.jwt.claims', '{"role":"service_role"}', true);

select results_eq(
  $$ select id from public.stream_sessions
     where id in ('a5000000-0000-4000-8000-000000000001', 'a5000000-0000-4000-8000-000000000002',
       'b5000000-0000-4000-8000-000000000001')
     order by id $$,
  array['a5000000-0000-4000-8000-000000000001'::uuid, 'a5000000-0000-4000-8000-000000000002',
    'b5000000-0000-4000-8000-000000000001'],
  'service_role sees every session'
);
select is(
  pg_temp.row_count($$
    insert into public.stream_sessions
      (id, streamer_id, room_name, status, record, ended_at, end_reason)
    values ('b5000000-0000-4000-8000-000000000002', 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb',
      'session-b5000000-0000-4000-8000-000000000002', 'ended', false, now(), 'abandoned') $$),
  1,
  'service_role can create a session in any valid status, for any streamer'
);
select is(
  pg_temp.row_count($$
    update public.stream_sessions set viewers_current = 2, viewers_peak = 3, viewers_total = 5
    where id = 'a5000000-0000-4000-8000-000000000001' $$),
  1,
  'service_role can update any column of any session'
);
select is(
  pg_temp.row_count($$
    delete from public.stream_sessions where id = 'b5000000-0000-4000-8000-000000000002' $$),
  1,
  'service_role can delete sessions'
);

select * from finish();
rollback;
