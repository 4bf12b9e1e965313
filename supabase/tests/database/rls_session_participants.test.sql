-- RLS matrix for public.session_participants: anon, the owning streamer, another streamer, an
-- active guardian with an account, a revoked guardian and service_role, each trying select,
-- insert, update and delete. Only service_role (the LiveKit webhook) writes.
begin;
create extension if not exists pgtap;
select plan(24);

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

insert into public.stream_sessions (id, streamer_id, room_name, status, started_at, record)
values
  ('a5000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
    'session-a5000000-0000-4000-8000-000000000001', 'live', now(), false),
  ('b5000000-0000-4000-8000-000000000001', 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb',
    'session-b5000000-0000-4000-8000-000000000001', 'live', now(), false);

insert into public.session_participants
  (id, session_id, participant_sid, identity, kind, guardian_id, user_id, joined_at)
values
  ('a9000000-0000-4000-8000-000000000001', 'a5000000-0000-4000-8000-000000000001', 'PA_owner_1',
    'guardian:ac000000-0000-4000-8000-000000000001', 'viewer',
    'ac000000-0000-4000-8000-000000000001', 'cccccccc-cccc-4ccc-8ccc-cccccccccccc', now()),
  ('b9000000-0000-4000-8000-000000000001', 'b5000000-0000-4000-8000-000000000001', 'PA_other_1',
    'streamer:bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'streamer', null,
    'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', now());

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

-- anon ------------------------------------------------------------------------------------
set local role anon;
select set_config('request.jwt.claims', '{"role":"anon"}', true);

select throws_ok(
  $$ select * from public.session_participants $$,
  '42501', 'permission denied for table session_participants',
  'anon cannot select participants'
);
select throws_ok(
  $$ insert into public.session_participants (session_id, participant_sid, identity, kind, joined_at)
     values ('a5000000-0000-4000-8000-000000000001', 'PA_anon', 'anon', 'viewer', now()) $$,
  '42501', 'permission denied for table session_participants',
  'anon cannot insert participants'
);
select throws_ok(
  $$ update public.session_participants set left_at = now() $$,
  '42501', 'permission denied for table session_participants',
  'anon cannot update participants'
);
select throws_ok(
  $$ delete from public.session_participants $$,
  '42501', 'permission denied for table session_participants',
  'anon cannot delete participants'
);

-- the owning streamer ---------------------------------------------------------------------
reset role;
set local role authenticated;
select set_config('request.jwt.claims',
  '{"sub":"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa","role":"authenticated"}', true);

select results_eq(
  $$ select id from public.session_participants order by id $$,
  array['a9000000-0000-4000-8000-000000000001'::uuid],
  'the owner sees who joined their session, and no one else''s'
);
select throws_ok(
  $$ insert into public.session_participants (session_id, participant_sid, identity, kind, joined_at)
     values ('a5000000-0000-4000-8000-000000000001', 'PA_owner_2', 'x', 'viewer', now()) $$,
  '42501', 'permission denied for table session_participants',
  'the owner cannot insert participants'
);
select throws_ok(
  $$ update public.session_participants set left_at = now()
     where id = 'a9000000-0000-4000-8000-000000000001' $$,
  '42501', 'permission denied for table session_participants',
  'the owner cannot update participants'
);
select throws_ok(
  $$ delete from public.session_participants where id = 'a9000000-0000-4000-8000-000000000001' $$,
  '42501', 'permission denied for table session_participants',
  'the owner cannot delete participants'
);

-- another streamer ------------------------------------------------------------------------
select set_config('request.jwt.claims',
  '{"sub":"bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb","role":"authenticated"}', true);

select results_eq(
  $$ select id from public.session_participants order by id $$,
  array['b9000000-0000-4000-8000-000000000001'::uuid],
  'another streamer sees only the participants of their own session'
);
select throws_ok(
  $$ insert into public.session_participants (session_id, participant_sid, identity, kind, joined_at)
     values ('a5000000-0000-4000-8000-000000000001', 'PA_other_2', 'x', 'viewer', now()) $$,
  '42501', 'permission denied for table session_participants',
  'another streamer cannot insert participants'
);
select throws_ok(
  $$ update public.session_participants set left_at = now()
     where id = 'a9000000-0000-4000-8000-000000000001' $$,
  '42501', 'permission denied for table session_participants',
  'another streamer cannot update participants'
);
select throws_ok(
  $$ delete from public.session_participants where id = 'a9000000-0000-4000-8000-000000000001' $$,
  '42501', 'permission denied for table session_participants',
  'another streamer cannot delete participants'
);

-- an active guardian ----------------------------------------------------------------------
select set_config('request.jwt.claims',
  '{"sub":"cccccccc-cccc-4ccc-8ccc-cccccccccccc","role":"authenticated"}', true);

select is_empty(
  $$ select id from public.session_participants $$,
  'an active guardian does not see who joined (other viewers'' ids); counts are on the session'
);
select throws_ok(
  $$ insert into public.session_participants (session_id, participant_sid, identity, kind, joined_at)
     values ('a5000000-0000-4000-8000-000000000001', 'PA_guardian_2', 'x', 'viewer', now()) $$,
  '42501', 'permission denied for table session_participants',
  'an active guardian cannot insert participants'
);
select throws_ok(
  $$ update public.session_participants set left_at = now()
     where id = 'a9000000-0000-4000-8000-000000000001' $$,
  '42501', 'permission denied for table session_participants',
  'an active guardian cannot update participants'
);
select throws_ok(
  $$ delete from public.session_participants where id = 'a9000000-0000-4000-8000-000000000001' $$,
  '42501', 'permission denied for table session_participants',
  'an active guardian cannot delete participants'
);

-- a revoked guardian ----------------------------------------------------------------------
select set_config('request.jwt.claims',
  '{"sub":"dddddddd-dddd-4ddd-8ddd-dddddddddddd","role":"authenticated"}', true);

select is_empty(
  $$ select id from public.session_participants $$,
  'a revoked guardian sees no participants'
);
select throws_ok(
  $$ insert into public.session_participants (session_id, participant_sid, identity, kind, joined_at)
     values ('a5000000-0000-4000-8000-000000000001', 'PA_revoked_2', 'x', 'viewer', now()) $$,
  '42501', 'permission denied for table session_participants',
  'a revoked guardian cannot insert participants'
);
select throws_ok(
  $$ update public.session_participants set left_at = now()
     where id = 'a9000000-0000-4000-8000-000000000001' $$,
  '42501', 'permission denied for table session_participants',
  'a revoked guardian cannot update participants'
);
select throws_ok(
  $$ delete from public.session_participants where id = 'a9000000-0000-4000-8000-000000000001' $$,
  '42501', 'permission denied for table session_participants',
  'a revoked guardian cannot delete participants'
);

-- service_role ----------------------------------------------------------------------------
reset role;
set local role service_role;
select set_config('request.jwt.claims', '{"role":"service_role"}', true);

select results_eq(
  $$ select id from public.session_participants
     where id in ('a9000000-0000-4000-8000-000000000001', 'b9000000-0000-4000-8000-000000000001')
     order by id $$,
  array['a9000000-0000-4000-8000-000000000001'::uuid, 'b9000000-0000-4000-8000-000000000001'],
  'service_role sees every participant'
);
select is(
  pg_temp.row_count($$
    insert into public.session_participants (session_id, participant_sid, identity, kind, joined_at)
    values ('a5000000-0000-4000-8000-000000000001', 'PA_service', 'viewer:x', 'viewer', now()) $$),
  1,
  'service_role can insert participants'
);
select is(
  pg_temp.row_count($$
    update public.session_participants set left_at = joined_at + interval '1 minute'
    where id = 'a9000000-0000-4000-8000-000000000001' $$),
  1,
  'service_role can update participants'
);
select is(
  pg_temp.row_count($$
    delete from public.session_participants where id = 'b9000000-0000-4000-8000-000000000001' $$),
  1,
  'service_role can delete participants'
);

select * from finish();
rollback;
