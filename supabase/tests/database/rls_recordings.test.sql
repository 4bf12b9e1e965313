-- RLS matrix for public.recordings: anon, the owning streamer, another streamer, an active
-- guardian with an account, a revoked guardian and service_role, each trying select, insert,
-- update and delete. Through the Data API users only read (data_api_read_only.sql): uploads are
-- started, completed and deleted by the functions (recordings_writes.test.sql).
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

-- Accounts are bound to guardians by their links, never by email: the fixtures bind them.
insert into public.guardians (id, streamer_id, email, status, confirmed_at, revoked_at, user_id)
values
  ('ac000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
    'guardian@rls.test', 'active', now(), null, 'cccccccc-cccc-4ccc-8ccc-cccccccccccc'),
  ('de000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
    'revoked@rls.test', 'revoked', now(), now(), 'dddddddd-dddd-4ddd-8ddd-dddddddddddd');

-- Accounts are bound to guardian rows by proof (private.guardian_bind_account), never by email:
-- the fixture binds each account with a guardian row here.
update public.guardians g set user_id = u.id
  from auth.users u
 where u.email = g.email and g.streamer_id = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';

insert into public.stream_sessions
  (id, streamer_id, room_name, status, started_at, ended_at, end_reason, record)
values
  ('a5000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
    'session-a5000000-0000-4000-8000-000000000001', 'ended', now(), now(), 'room_finished', false),
  ('b5000000-0000-4000-8000-000000000001', 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb',
    'session-b5000000-0000-4000-8000-000000000001', 'ended', now(), now(), 'room_finished', false);

insert into public.recordings
  (id, session_id, streamer_id, source, status, egress_id, ready_at, size_bytes)
values
  ('ae000000-0000-4000-8000-000000000001', 'a5000000-0000-4000-8000-000000000001',
    'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'egress', 'ready', 'EG_rls_owner_1', now(), 1000),
  ('ae000000-0000-4000-8000-000000000002', 'a5000000-0000-4000-8000-000000000001',
    'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'egress', 'ready', 'EG_rls_owner_2', now(), 1000),
  ('be000000-0000-4000-8000-000000000001', 'b5000000-0000-4000-8000-000000000001',
    'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'egress', 'ready', 'EG_rls_other_1', now(), 1000);

-- An upload of the owner, as sign-upload-url starts it.
insert into public.recordings
  (id, session_id, streamer_id, source, status, content_type, expected_size_bytes, object_path)
values ('ae000000-0000-4000-8000-000000000003', 'a5000000-0000-4000-8000-000000000001',
  'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'upload', 'uploading', 'video/webm', 2048,
  'recordings/aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa/a5000000-0000-4000-8000-000000000001/u.webm');

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
  $$ select * from public.recordings $$,
  '42501', 'permission denied for table recordings',
  'anon cannot select recordings'
);
select throws_ok(
  $$ insert into public.recordings
       (session_id, streamer_id, source, status, expected_size_bytes)
     values ('a5000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
       'upload', 'uploading', 1000) $$,
  '42501', 'permission denied for table recordings',
  'anon cannot insert recordings'
);
select throws_ok(
  $$ update public.recordings set status = 'deleted', deleted_at = now() $$,
  '42501', 'permission denied for table recordings',
  'anon cannot update recordings'
);
select throws_ok(
  $$ delete from public.recordings $$,
  '42501', 'permission denied for table recordings',
  'anon cannot delete recordings'
);

-- the owning streamer ---------------------------------------------------------------------
reset role;
set local role authenticated;
select set_config('request.jwt.claims',
  '{"sub":"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa","role":"authenticated"}', true);

select results_eq(
  $$ select id from public.recordings order by id $$,
  array['ae000000-0000-4000-8000-000000000001'::uuid, 'ae000000-0000-4000-8000-000000000002',
        'ae000000-0000-4000-8000-000000000003'],
  'the owner sees their own recordings and no one else''s'
);
select throws_ok(
  $$ insert into public.recordings
       (session_id, streamer_id, source, status, content_type, expected_size_bytes, object_path)
     values ('a5000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
       'upload', 'uploading', 'video/webm', 2048,
       'recordings/aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa/a5000000-0000-4000-8000-000000000001/v.webm') $$,
  '42501', 'permission denied for table recordings',
  'the owner cannot start an upload through the Data API (sign-upload-url does, within the quota)'
);
select throws_ok(
  $$ insert into public.recordings (session_id, streamer_id, source, status)
     values ('a5000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
       'egress', 'pending') $$,
'42501', 'permission denied for table recordings',
  'the owner cannot create egress recordings'
);
select throws_ok(
  $$ insert into public.recordings
       (session_id, streamer_id, source, status, expected_size_bytes)
     values ('b5000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
       'upload', 'uploading', 1000) $$,
'42501', 'permission denied for table recordings',
  'the owner cannot upload into another streamer''s session'
);
select throws_ok(
  $$ insert into public.recordings
       (session_id, streamer_id, source, status, expected_size_bytes)
     values ('b5000000-0000-4000-8000-000000000001', 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb',
       'upload', 'uploading', 1000) $$,
'42501', 'permission denied for table recordings',
  'the owner cannot create recordings in another streamer''s name'
);
select throws_ok(
  $$ update public.recordings set status = 'deleted', deleted_at = now(), updated_at = now()
     where id = 'ae000000-0000-4000-8000-000000000001' $$,
  '42501', 'permission denied for table recordings',
  'the owner cannot mark their recording deleted through the Data API (delete-recording does)'
);
select throws_ok(
  $$ update public.recordings set object_path = 'recordings/elsewhere.mp4'
     where id = 'ae000000-0000-4000-8000-000000000002' $$,
  '42501', 'permission denied for table recordings',
  'the owner cannot repoint a recording''s object'
);
select throws_ok(
  $$ delete from public.recordings where id = 'ae000000-0000-4000-8000-000000000002' $$,
  '42501', 'permission denied for table recordings',
  'the owner cannot delete recording rows'
);

-- another streamer ------------------------------------------------------------------------
select set_config('request.jwt.claims',
  '{"sub":"bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb","role":"authenticated"}', true);

select results_eq(
  $$ select id from public.recordings order by id $$,
  array['be000000-0000-4000-8000-000000000001'::uuid],
  'another streamer sees only their own recordings'
);
select throws_ok(
  $$ insert into public.recordings
       (session_id, streamer_id, source, status, expected_size_bytes)
     values ('a5000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
       'upload', 'uploading', 1000) $$,
'42501', 'permission denied for table recordings',
  'another streamer cannot upload into the owner''s session'
);
select throws_ok(
  $$ update public.recordings set status = 'deleted', deleted_at = now()
     where id = 'ae000000-0000-4000-8000-000000000002' $$,
  '42501', 'permission denied for table recordings',
  'another streamer cannot update the owner''s recording'
);
select throws_ok(
  $$ delete from public.recordings where id = 'ae000000-0000-4000-8000-000000000002' $$,
  '42501', 'permission denied for table recordings',
  'another streamer cannot delete the owner''s recording'
);

-- an active guardian ----------------------------------------------------------------------
select set_config('request.jwt.claims',
  '{"sub":"cccccccc-cccc-4ccc-8ccc-cccccccccccc","role":"authenticated"}', true);

select results_eq(
  $$ select id from public.recordings order by id $$,
  array[
    'ae000000-0000-4000-8000-000000000001'::uuid, 'ae000000-0000-4000-8000-000000000002',
    'ae000000-0000-4000-8000-000000000003'
  ],
  'an active guardian sees the recordings of the streamer they guard, and no others'
);
select throws_ok(
  $$ insert into public.recordings
       (session_id, streamer_id, source, status, expected_size_bytes)
     values ('a5000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
       'upload', 'uploading', 1000) $$,
'42501', 'permission denied for table recordings',
  'an active guardian cannot create recordings'
);
select throws_ok(
  $$ update public.recordings set size_bytes = 1
     where id = 'ae000000-0000-4000-8000-000000000002' $$,
'42501', 'permission denied for table recordings',
  'an active guardian cannot change a recording'
);
select throws_ok(
  $$ update public.recordings set status = 'deleted', deleted_at = now()
     where id = 'ae000000-0000-4000-8000-000000000002' $$,
  '42501', 'permission denied for table recordings',
  'an active guardian cannot mark a recording deleted while its object stays (delete-recording does)'
);
select throws_ok(
  $$ delete from public.recordings where id = 'ae000000-0000-4000-8000-000000000002' $$,
  '42501', 'permission denied for table recordings',
  'an active guardian cannot delete recording rows'
);

-- a revoked guardian ----------------------------------------------------------------------
select set_config('request.jwt.claims',
  '{"sub":"dddddddd-dddd-4ddd-8ddd-dddddddddddd","role":"authenticated"}', true);

select is_empty(
  $$ select id from public.recordings $$,
  'a revoked guardian sees no recordings'
);
select throws_ok(
  $$ insert into public.recordings
       (session_id, streamer_id, source, status, expected_size_bytes)
     values ('a5000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
       'upload', 'uploading', 1000) $$,
'42501', 'permission denied for table recordings',
  'a revoked guardian cannot create recordings'
);
select throws_ok(
  $$ update public.recordings set status = 'deleted', deleted_at = now()
     where id = 'ae000000-0000-4000-8000-000000000003' $$,
  '42501', 'permission denied for table recordings',
  'a revoked guardian cannot delete (update) the streamer''s recordings'
);
select throws_ok(
  $$ delete from public.recordings where id = 'ae000000-0000-4000-8000-000000000003' $$,
  '42501', 'permission denied for table recordings',
  'a revoked guardian cannot delete recording rows'
);

-- service_role ----------------------------------------------------------------------------
reset role;
set local role service_role;
select set_config('request.jwt.claims', '{"role":"service_role"}', true);

select results_eq(
  $$ select id from public.recordings
     where streamer_id in ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
       'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb')
     order by id $$,
  array[
    'ae000000-0000-4000-8000-000000000001'::uuid, 'ae000000-0000-4000-8000-000000000002',
    'ae000000-0000-4000-8000-000000000003', 'be000000-0000-4000-8000-000000000001'
  ],
  'service_role sees every recording'
);
select is(
  pg_temp.row_count($$
    insert into public.recordings (session_id, streamer_id, source, status, egress_id)
    values ('b5000000-0000-4000-8000-000000000001', 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb',
      'egress', 'pending', 'EG_rls_service') $$),
  1,
  'service_role can create egress recordings'
);
select is(
  pg_temp.row_count($$
    update public.recordings set status = 'recording', started_at = now()
    where egress_id = 'EG_rls_service' $$),
  1,
  'service_role can update recordings'
);
select is(
  pg_temp.row_count($$
    delete from public.recordings where egress_id = 'EG_rls_service' $$),
  1,
  'service_role can delete recording rows'
);

select * from finish();
rollback;
