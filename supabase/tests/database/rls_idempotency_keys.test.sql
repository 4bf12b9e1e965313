-- RLS matrix for public.idempotency_keys: anon, the owning user, another streamer, an active
-- guardian with an account, a revoked guardian and service_role, each trying select, insert,
-- update and delete. Each user reads only their own keys and writes none: start-session
-- writes them (20261206000000_data_api_read_only.sql).
begin;
create extension if not exists pgtap;
select plan(25);

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

insert into public.idempotency_keys (user_id, operation, key, request_hash, expires_at)
values
  ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'start-session', 'owner-key-0001', 'hash-a',
    now() + interval '1 day'),
  ('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'start-session', 'other-key-0001', 'hash-b',
    now() + interval '1 day');

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
  $$ select * from public.idempotency_keys $$,
  '42501', 'permission denied for table idempotency_keys',
  'anon cannot select idempotency keys'
);
select throws_ok(
  $$ insert into public.idempotency_keys (user_id, operation, key, request_hash, expires_at)
     values ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'start-session', 'anon-key-0001', 'h',
       now()) $$,
  '42501', 'permission denied for table idempotency_keys',
  'anon cannot insert idempotency keys'
);
select throws_ok(
  $$ update public.idempotency_keys set status_code = 201 $$,
  '42501', 'permission denied for table idempotency_keys',
  'anon cannot update idempotency keys'
);
select throws_ok(
  $$ delete from public.idempotency_keys $$,
  '42501', 'permission denied for table idempotency_keys',
  'anon cannot delete idempotency keys'
);

-- the owning user -------------------------------------------------------------------------
reset role;
set local role authenticated;
select set_config('request.jwt.claims',
  '{"sub":"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa","role":"authenticated"}', true);

select results_eq(
  $$ select key from public.idempotency_keys order by key $$,
  array['owner-key-0001'],
  'a user sees their own idempotency keys and no one else''s'
);
select throws_ok(
  $$ insert into public.idempotency_keys (user_id, operation, key, request_hash, expires_at)
     values ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'start-session', 'owner-key-0002', 'hash-c',
       now() + interval '1 day') $$,
  '42501', 'permission denied for table idempotency_keys',
  'a user cannot record an idempotency key, even for themselves'
);
select throws_ok(
  $$ insert into public.idempotency_keys (user_id, operation, key, request_hash, expires_at)
     values ('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'start-session', 'planted-key-01', 'h',
       now()) $$,
  '42501', 'permission denied for table idempotency_keys',
  'a user cannot record idempotency keys for someone else'
);
select throws_ok(
  $$ update public.idempotency_keys set status_code = 201, response = '{"ok":true}'
     where key = 'owner-key-0001' $$,
  '42501', 'permission denied for table idempotency_keys',
  'a user cannot store a response for their own idempotency key'
);
select throws_ok(
  $$ delete from public.idempotency_keys where key = 'owner-key-0001' $$,
  '42501', 'permission denied for table idempotency_keys',
  'a user cannot delete idempotency keys'
);

-- another streamer ------------------------------------------------------------------------
select set_config('request.jwt.claims',
  '{"sub":"bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb","role":"authenticated"}', true);

select results_eq(
  $$ select key from public.idempotency_keys order by key $$,
  array['other-key-0001'],
  'another streamer sees only their own idempotency keys'
);
select throws_ok(
  $$ insert into public.idempotency_keys (user_id, operation, key, request_hash, expires_at)
     values ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'start-session', 'planted-key-02', 'h',
       now()) $$,
  '42501', 'permission denied for table idempotency_keys',
  'another streamer cannot record keys for the owner'
);
select throws_ok(
  $$ update public.idempotency_keys set response = '{"forged":true}'
     where key = 'owner-key-0001' $$,
  '42501', 'permission denied for table idempotency_keys',
  'another streamer cannot update the owner''s keys'
);
select throws_ok(
  $$ delete from public.idempotency_keys where key = 'owner-key-0001' $$,
  '42501', 'permission denied for table idempotency_keys',
  'another streamer cannot delete the owner''s keys'
);

-- an active guardian ----------------------------------------------------------------------
select set_config('request.jwt.claims',
  '{"sub":"cccccccc-cccc-4ccc-8ccc-cccccccccccc","role":"authenticated"}', true);

select is_empty(
  $$ select key from public.idempotency_keys $$,
  'an active guardian sees none of the streamer''s idempotency keys'
);
select throws_ok(
  $$ insert into public.idempotency_keys (user_id, operation, key, request_hash, expires_at)
     values ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'start-session', 'planted-key-03', 'h',
       now()) $$,
  '42501', 'permission denied for table idempotency_keys',
  'an active guardian cannot record keys for the streamer'
);
select throws_ok(
  $$ update public.idempotency_keys set response = '{"forged":true}'
     where key = 'owner-key-0001' $$,
  '42501', 'permission denied for table idempotency_keys',
  'an active guardian cannot update the streamer''s keys'
);
select throws_ok(
  $$ delete from public.idempotency_keys where key = 'owner-key-0001' $$,
  '42501', 'permission denied for table idempotency_keys',
  'an active guardian cannot delete keys'
);

-- a revoked guardian ----------------------------------------------------------------------
select set_config('request.jwt.claims',
  '{"sub":"dddddddd-dddd-4ddd-8ddd-dddddddddddd","role":"authenticated"}', true);

select is_empty(
  $$ select key from public.idempotency_keys $$,
  'a revoked guardian sees none of the streamer''s idempotency keys'
);
select throws_ok(
  $$ insert into public.idempotency_keys (user_id, operation, key, request_hash, expires_at)
     values ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'start-session', 'planted-key-04', 'h',
       now()) $$,
  '42501', 'permission denied for table idempotency_keys',
  'a revoked guardian cannot record keys for the streamer'
);
select throws_ok(
  $$ update public.idempotency_keys set response = '{"forged":true}'
     where key = 'owner-key-0001' $$,
  '42501', 'permission denied for table idempotency_keys',
  'a revoked guardian cannot update the streamer''s keys'
);
select throws_ok(
  $$ delete from public.idempotency_keys where key = 'owner-key-0001' $$,
  '42501', 'permission denied for table idempotency_keys',
  'a revoked guardian cannot delete keys'
);

-- service_role ----------------------------------------------------------------------------
reset role;
set local role service_role;
select set_config('request.jwt.claims', '{"role":"service_role"}', true);

select results_eq(
  $$ select key from public.idempotency_keys
     where user_id in ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
       'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb')
     order by key $$,
  array['other-key-0001', 'owner-key-0001'],
  'service_role sees every idempotency key'
);
select is(
  pg_temp.row_count($$
    insert into public.idempotency_keys (user_id, operation, key, request_hash, expires_at)
    values ('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'start-session', 'service-key-01', 'h',
      now()) $$),
  1,
  'service_role can insert idempotency keys'
);
select is(
  pg_temp.row_count($$
    update public.idempotency_keys set expires_at = now() - interval '1 second'
    where key = 'other-key-0001' $$),
  1,
  'service_role can update idempotency keys'
);
select is(
  pg_temp.row_count($$
    delete from public.idempotency_keys
    where user_id = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb' $$),
  2,
  'service_role can delete idempotency keys'
);

select * from finish();
rollback;
