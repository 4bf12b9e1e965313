-- RLS matrix for public.guardians: anon, the owning streamer, another streamer, an active
-- guardian with an account, a revoked guardian and service_role, each trying select, insert,
-- update and delete. Through the Data API users only read: every change is a guardian operation
-- of the edge functions (supabase/tests/database/guardian_gatekeeper.test.sql).
begin;
create extension if not exists pgtap;
select plan(29);

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
    'revoked@rls.test', 'revoked', now(), now()),
  ('af000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
    'pending@rls.test', 'pending', null, null),
  ('bf000000-0000-4000-8000-000000000001', 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb',
    'someone@rls.test', 'pending', null, null);

-- Accounts are bound to guardian rows by proof (private.guardian_bind_account), never by email:
-- the fixture binds each account with a guardian row here.
update public.guardians g set user_id = u.id
  from auth.users u
 where u.email = g.email and g.streamer_id = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';

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
  $$ select * from public.guardians $$,
  '42501', 'permission denied for table guardians',
  'anon cannot select guardians'
);
select throws_ok(
  $$ insert into public.guardians (streamer_id, email)
     values ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'anon@rls.test') $$,
  '42501', 'permission denied for table guardians',
  'anon cannot insert guardians'
);
select throws_ok(
  $$ update public.guardians set notify_stream_ended = true $$,
  '42501', 'permission denied for table guardians',
  'anon cannot update guardians'
);
select throws_ok(
  $$ delete from public.guardians $$,
  '42501', 'permission denied for table guardians',
  'anon cannot delete guardians'
);

-- the owning streamer ---------------------------------------------------------------------
reset role;
set local role authenticated;
select set_config('request.jwt.claims',
  '{"sub":"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa","role":"authenticated"}', true);

select results_eq(
  $$ select id from public.guardians order by id $$,
  array[
    'ac000000-0000-4000-8000-000000000001'::uuid, 'af000000-0000-4000-8000-000000000001',
    'de000000-0000-4000-8000-000000000001'
  ],
  'the owner sees the guardians they added and no one else''s'
);
select throws_ok(
  $$
    insert into public.guardians (streamer_id, email, name, status)
    values ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'new@rls.test', 'New', 'pending') $$,
  '42501', 'permission denied for table guardians',
  'the owner cannot insert an invitation (guardians POST does, after its checks)'
);
select throws_ok(
  $$ insert into public.guardians (streamer_id, email, status)
     values ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'eager@rls.test', 'active') $$,
  '42501', 'permission denied for table guardians',
  'the owner cannot add an active guardian (consent comes from the guardian)'
);
select throws_ok(
  $$ insert into public.guardians (streamer_id, email, user_id)
     values ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'linked@rls.test',
       'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb') $$,
  '42501', 'permission denied for table guardians',
  'the owner cannot link a guardian to an account of their choosing'
);
select throws_ok(
  $$ insert into public.guardians (streamer_id, email)
     values ('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'planted@rls.test') $$,
  '42501', 'permission denied for table guardians',
  'the owner cannot add guardians for another streamer'
);
select throws_ok(
  $$
    update public.guardians
    set name = 'Grandma', notify_stream_ended = true, updated_at = now()
    where id = 'ac000000-0000-4000-8000-000000000001' $$,
  '42501', 'permission denied for table guardians',
  'the owner cannot rename a guardian or change their notifications'
);
select throws_ok(
  $$
    update public.guardians set status = 'revoked', revoked_at = now()
    where id = 'af000000-0000-4000-8000-000000000001' $$,
  '42501', 'permission denied for table guardians',
  'the owner cannot revoke through the Data API (guardians DELETE does)'
);
select throws_ok(
  $$ update public.guardians set email = 'swapped@rls.test'
     where id = 'ac000000-0000-4000-8000-000000000001' $$,
  '42501', 'permission denied for table guardians',
  'the owner cannot change a guardian''s email'
);
select throws_ok(
  $$ delete from public.guardians where id = 'ac000000-0000-4000-8000-000000000001' $$,
  '42501', 'permission denied for table guardians',
  'the owner cannot delete guardian rows'
);

-- another streamer ------------------------------------------------------------------------
select set_config('request.jwt.claims',
  '{"sub":"bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb","role":"authenticated"}', true);

select results_eq(
  $$ select id from public.guardians order by id $$,
  array['bf000000-0000-4000-8000-000000000001'::uuid],
  'another streamer sees only their own guardians'
);
select throws_ok(
  $$ insert into public.guardians (streamer_id, email)
     values ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'planted@rls.test') $$,
  '42501', 'permission denied for table guardians',
  'another streamer cannot add guardians for the owner'
);
select throws_ok(
  $$
    update public.guardians set notify_stream_started = false
    where id = 'ac000000-0000-4000-8000-000000000001' $$,
  '42501', 'permission denied for table guardians',
  'another streamer cannot update the owner''s guardians'
);
select throws_ok(
  $$ delete from public.guardians where id = 'ac000000-0000-4000-8000-000000000001' $$,
  '42501', 'permission denied for table guardians',
  'another streamer cannot delete the owner''s guardians'
);

-- an active guardian ----------------------------------------------------------------------
select set_config('request.jwt.claims',
  '{"sub":"cccccccc-cccc-4ccc-8ccc-cccccccccccc","role":"authenticated"}', true);

select results_eq(
  $$ select id from public.guardians order by id $$,
  array['ac000000-0000-4000-8000-000000000001'::uuid],
  'an active guardian sees their own guardian row and no other'
);
select throws_ok(
  $$ insert into public.guardians (streamer_id, email)
     values ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'friend@rls.test') $$,
  '42501', 'permission denied for table guardians',
  'an active guardian cannot add guardians for the streamer'
);
select throws_ok(
  $$
    update public.guardians set notify_stream_ended = false
    where id = 'ac000000-0000-4000-8000-000000000001' $$,
  '42501', 'permission denied for table guardians',
  'an active guardian cannot update guardian rows, not even their own'
);
select throws_ok(
  $$ delete from public.guardians where id = 'ac000000-0000-4000-8000-000000000001' $$,
  '42501', 'permission denied for table guardians',
  'an active guardian cannot delete guardian rows'
);

-- a revoked guardian ----------------------------------------------------------------------
select set_config('request.jwt.claims',
  '{"sub":"dddddddd-dddd-4ddd-8ddd-dddddddddddd","role":"authenticated"}', true);

select results_eq(
  $$ select id, status from public.guardians order by id $$,
  $$ values ('de000000-0000-4000-8000-000000000001'::uuid, 'revoked') $$,
  'a revoked guardian sees only their own (revoked) row'
);
select throws_ok(
  $$ insert into public.guardians (streamer_id, email)
     values ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'revoked@rls.test') $$,
  '42501', 'permission denied for table guardians',
  'a revoked guardian cannot re-invite themselves'
);
select throws_ok(
  $$
    update public.guardians set status = 'pending'
    where id = 'de000000-0000-4000-8000-000000000001' $$,
  '42501', 'permission denied for table guardians',
  'a revoked guardian cannot update their row'
);
select throws_ok(
  $$ delete from public.guardians where id = 'de000000-0000-4000-8000-000000000001' $$,
  '42501', 'permission denied for table guardians',
  'a revoked guardian cannot delete guardian rows'
);

-- service_role ----------------------------------------------------------------------------
reset role;
set local role service_role;
select set_config('request.jwt.claims', '{"role":"service_role"}', true);

select results_eq(
  $$ select id from public.guardians
     where streamer_id in ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
       'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb')
     order by id $$,
  array[
    'ac000000-0000-4000-8000-000000000001'::uuid, 'af000000-0000-4000-8000-000000000001',
    'bf000000-0000-4000-8000-000000000001', 'de000000-0000-4000-8000-000000000001'
  ],
  'service_role sees every guardian'
);
select is(
  pg_temp.row_count($$
    update public.guardians set status = 'active', confirmed_at = now()
    where id = 'bf000000-0000-4000-8000-000000000001' $$),
  1,
  'service_role can record consent (activate a guardian)'
);
select is(
  pg_temp.row_count($$
    insert into public.guardians (streamer_id, email, status, confirmed_at)
    values ('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'service@rls.test', 'active', now()) $$),
  1,
  'service_role can insert guardians in any status'
);
select is(
  pg_temp.row_count($$
    delete from public.guardians where email = 'service@rls.test' $$),
  1,
  'service_role can delete guardian rows'
);

select * from finish();
rollback;
