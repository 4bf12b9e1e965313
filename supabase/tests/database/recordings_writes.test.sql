-- Recordings are written only by functions (API.md, "Who may see a child"): through the Data
-- API, replayed as PostgREST runs it (role authenticated with request.jwt.claims), a streamer
-- cannot plant or complete an upload (which would queue "recording ready" emails) and no
-- guardian, primary or not, can mark a recording deleted. sign-upload-url's owner-only
-- private.start_upload keeps a streamer's signed sizes within the rolling 24-hour quota, for
-- their own sessions only; object paths never hold a "." or ".." segment.
begin;
create extension if not exists pgtap;
select plan(22);

-- Fixtures, as postgres ---------------------------------------------------------------------
-- streamer aaaaaaaa…, other streamer bbbbbbbb…, primary guardian cccccccc…, viewer dddddddd…
insert into auth.users (id, email, email_confirmed_at)
values
  ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'owner@rec.test', now()),
  ('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'other@rec.test', now()),
  ('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 'primary@rec.test', now()),
  ('dddddddd-dddd-4ddd-8ddd-dddddddddddd', 'viewer@rec.test', now());

insert into public.guardians (id, streamer_id, email, role, status, confirmed_at, user_id)
values
  ('ac000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
    'primary@rec.test', 'primary', 'active', now(), 'cccccccc-cccc-4ccc-8ccc-cccccccccccc'),
  ('ac000000-0000-4000-8000-000000000002', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
    'viewer@rec.test', 'viewer', 'active', now(), 'dddddddd-dddd-4ddd-8ddd-dddddddddddd');

insert into public.stream_sessions (id, streamer_id, status, room_name, record, started_at,
  ended_at, end_reason)
values
  ('5a000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'ended',
    'session-5a000000-0000-4000-8000-000000000001', false, now(), now(), 'streamer_ended'),
  ('5b000000-0000-4000-8000-000000000001', 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'ended',
    'session-5b000000-0000-4000-8000-000000000001', false, now(), now(), 'streamer_ended');

insert into public.recordings (id, session_id, streamer_id, source, status, object_path,
  content_type, expected_size_bytes, size_bytes, ready_at, created_at)
values
  ('7a000000-0000-4000-8000-000000000001', '5a000000-0000-4000-8000-000000000001',
    'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'upload', 'uploading',
    'uploads/aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa/5a000000-0000-4000-8000-000000000001/u.mp4',
    'video/mp4', 1000, null, null, '2026-12-01 12:00:00+00'),
  ('7a000000-0000-4000-8000-000000000002', '5a000000-0000-4000-8000-000000000001',
    'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'upload', 'ready',
    'uploads/aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa/5a000000-0000-4000-8000-000000000001/r.mp4',
    'video/mp4', 500, 500, now(), '2026-12-01 18:00:00+00');

-- The Data API, as PostgREST runs it ---------------------------------------------------------

set local role authenticated;
select set_config('request.jwt.claims',
  '{"sub":"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa","role":"authenticated"}', true);

select throws_ok(
  $$insert into public.recordings (session_id, streamer_id, source, status, object_path,
      content_type, expected_size_bytes, size_bytes, ready_at)
    values ('5a000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
      'upload', 'ready',
      'uploads/aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa/5a000000-0000-4000-8000-000000000001/f.mp4',
      'video/mp4', 10, 10, now())$$,
  '42501', null,
  'a streamer cannot insert a fake ready upload'
);

select throws_ok(
  $$insert into public.recordings (session_id, streamer_id, source, status, object_path,
      content_type, expected_size_bytes)
    values ('5a000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
      'upload', 'uploading',
      'uploads/aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa/5a000000-0000-4000-8000-000000000001/g.mp4',
      'video/mp4', 10)$$,
  '42501', null,
  'a streamer cannot start an upload without sign-upload-url (and its quota)'
);

select throws_ok(
  $$update public.recordings set status = 'ready', size_bytes = 1000, ready_at = now()
     where id = '7a000000-0000-4000-8000-000000000001'$$,
  '42501', null,
  'a streamer cannot complete its upload without complete-upload (which checks the object)'
);

select throws_ok(
  $$select * from private.start_upload(
      p_streamer_id => 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
      p_session_id => '5a000000-0000-4000-8000-000000000001',
      p_recording_id => gen_random_uuid(),
      p_object_path => 'uploads/aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa/5a000000-0000-4000-8000-000000000001/h.mp4',
      p_content_type => 'video/mp4', p_size_bytes => 1, p_quota_bytes => 9000000000,
      p_now => now())$$,
  '42501', null,
  'a user cannot call private.start_upload (owner only)'
);

select set_config('request.jwt.claims',
  '{"sub":"cccccccc-cccc-4ccc-8ccc-cccccccccccc","role":"authenticated"}', true);

select is(
  (select count(*)::integer from public.recordings),
  2,
  'the primary guardian reads the recordings of the streamer it guards'
);

select throws_ok(
  $$update public.recordings set status = 'deleted', deleted_at = now()
     where id = '7a000000-0000-4000-8000-000000000002'$$,
  '42501', null,
  'the primary guardian cannot mark a recording deleted through the Data API (its object would stay)'
);

select set_config('request.jwt.claims',
  '{"sub":"dddddddd-dddd-4ddd-8ddd-dddddddddddd","role":"authenticated"}', true);

select throws_ok(
  $$update public.recordings set status = 'deleted', deleted_at = now()$$,
  '42501', null,
  'a viewer guardian cannot mark a recording deleted'
);

reset role;
select set_config('request.jwt.claims', '', true);

select results_eq(
  $$select id::text || ' ' || status from public.recordings
     where streamer_id = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa' order by id$$,
  array['7a000000-0000-4000-8000-000000000001 uploading',
        '7a000000-0000-4000-8000-000000000002 ready'],
  'the recordings are as they were, and no fake one exists'
);

select is(
  (select count(*)::integer from public.notification_outbox
    where streamer_id = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa' and kind = 'recording_ready'
      and recording_id <> '7a000000-0000-4000-8000-000000000002'),
  0,
  'no recording-ready email was queued (but for the fixture''s own ready recording)'
);

-- private.start_upload, as the functions' owner role ----------------------------------------
-- It becomes service_role for the rest of its transaction (act_as_service), as each call is a
-- statement of its own in production; here "reset role" after each call plays that part.
-- In the window of 2026-12-02 08:00: 1000 bytes (created 12:00 the day before) and 500 bytes
-- (18:00); the quota is 2000.

create function pg_temp.start(p_session uuid, p_size bigint, p_now timestamptz)
returns table (outcome text, retry_after_seconds integer, recording jsonb)
language sql
as $$
  select * from private.start_upload(
    p_streamer_id => 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', p_session_id => p_session,
    p_recording_id => gen_random_uuid(),
    p_object_path => 'uploads/aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa/' || p_session || '/'
      || gen_random_uuid() || '.mp4',
    p_content_type => 'video/mp4', p_size_bytes => p_size, p_quota_bytes => 2000,
    p_now => p_now)
$$;

select is(
  (select outcome from pg_temp.start('5b000000-0000-4000-8000-000000000001', 1,
    '2026-12-02 08:00:00+00')),
  'not_found',
  'a streamer cannot start an upload in another streamer''s session'
);
reset role;

select is(
  (select row(outcome, retry_after_seconds)::text from pg_temp.start(
    '5a000000-0000-4000-8000-000000000001', 501, '2026-12-02 08:00:00+00')),
  '(quota_exceeded,14400)',
  'over the quota: Retry-After is when the oldest upload leaves the 24 hours (12:00)'
);
reset role;

select is(
  (select row(outcome, retry_after_seconds)::text from pg_temp.start(
    '5a000000-0000-4000-8000-000000000001', 1600, '2026-12-02 08:00:00+00')),
  '(quota_exceeded,36000)',
  'a size that needs both uploads gone waits for the second one (18:00)'
);
reset role;

select is(
  (select row(outcome, retry_after_seconds)::text from pg_temp.start(
    '5a000000-0000-4000-8000-000000000001', 2001, '2026-12-02 08:00:00+00')),
  '(quota_exceeded,86400)',
  'a size over the whole quota is a full window away'
);
reset role;

select is(
  (select outcome from pg_temp.start('5a000000-0000-4000-8000-000000000001', 500,
    '2026-12-02 08:00:00+00')),
  'created',
  'an upload that fits exactly is created'
);
reset role;

select is(
  (select row(outcome, retry_after_seconds)::text from pg_temp.start(
    '5a000000-0000-4000-8000-000000000001', 1, '2026-12-02 08:00:01+00')),
  '(quota_exceeded,14399)',
  'then the quota is full'
);
reset role;

select is(
  (select outcome from pg_temp.start('5a000000-0000-4000-8000-000000000001', 1000,
    '2026-12-02 12:00:00+00')),
  'created',
  'rolling: 24 hours after the oldest upload, its bytes are free again'
);
reset role;

select is(
  (select r.status || ' ' || r.source || ' ' || r.expected_size_bytes || ' '
          || (r.created_at = '2026-12-02 12:00:00+00')
     from public.recordings r
    where r.streamer_id = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'
    order by r.created_at desc limit 1),
  'uploading upload 1000 true',
  'the created row is an uploading upload of the announced size, made at p_now'
);

select is(
  (select count(*)::integer from public.recordings
    where streamer_id = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb'),
  0,
  'nothing was created in the other streamer''s session'
);

select ok(
  not has_function_privilege('authenticated',
    'private.start_upload(uuid, uuid, uuid, text, text, bigint, bigint, timestamptz)', 'execute')
  and not has_function_privilege('anon',
    'private.start_upload(uuid, uuid, uuid, text, text, bigint, bigint, timestamptz)', 'execute')
  and not has_function_privilege('service_role',
    'private.start_upload(uuid, uuid, uuid, text, text, bigint, bigint, timestamptz)', 'execute'),
  'private.start_upload is granted to no one'
);

-- Object paths ----------------------------------------------------------------------------------

select throws_ok(
  $$select * from private.start_upload(
      p_streamer_id => 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
      p_session_id => '5a000000-0000-4000-8000-000000000001',
      p_recording_id => gen_random_uuid(),
      p_object_path => 'uploads/aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa/5a000000-0000-4000-8000-000000000001/../../../uploads/bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb/x.mp4',
      p_content_type => 'video/mp4', p_size_bytes => 1, p_quota_bytes => 2000,
      p_now => '2026-12-03 00:00:00+00')$$,
  '23514', null,
  'an upload path that climbs out of its prefix with .. is refused'
);
reset role;

select throws_ok(
  $$update public.recordings
       set object_path = 'uploads/aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa/5a000000-0000-4000-8000-000000000001/./r.mp4'
     where id = '7a000000-0000-4000-8000-000000000002'$$,
  '23514', null,
  'a . segment is refused too'
);

select is(
  (select count(*)::integer from public.recordings where object_path ~ '(^|/)\.\.?(/|$)'),
  0,
  'no recording points at a path with a dot segment'
);

select * from finish();
rollback;
