-- Constraints and triggers: one active session per streamer, session and recording
-- lifecycles that only move forward, unique egress ids, guardian emails, the limit of 10
-- guardians, account linking, outbox uniqueness and the rate limiter. Runs as postgres.
begin;
create extension if not exists pgtap;
select plan(75);

-- Returns "<sqlstate> <constraint>" for the error a statement raises, or 'no error'.
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

insert into auth.users (id, email, email_confirmed_at)
values
  ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'owner@constraints.test', now()),
  ('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'other@constraints.test', now());

-- Stream sessions ---------------------------------------------------------------------------

insert into public.stream_sessions (id, streamer_id, room_name, record)
values ('a5000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
  'session-a5000000-0000-4000-8000-000000000001', false);

select is(
  pg_temp.violation($$
    insert into public.stream_sessions (id, streamer_id, room_name, record)
    values ('c2000000-0000-4000-8000-000000000002', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'session-c2000000-0000-4000-8000-000000000002', false) $$),
  '23505 stream_sessions_one_active_per_streamer',
  'a streamer cannot have two starting sessions'
);
update public.stream_sessions set status = 'live', started_at = now()
where id = 'a5000000-0000-4000-8000-000000000001';
select is(
  pg_temp.violation($$
    insert into public.stream_sessions (id, streamer_id, room_name, record)
    values ('c2000000-0000-4000-8000-000000000002', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'session-c2000000-0000-4000-8000-000000000002', false) $$),
  '23505 stream_sessions_one_active_per_streamer',
  'a streamer cannot start a session while one is live'
);
select is(
  pg_temp.violation($$
    insert into public.stream_sessions (streamer_id, room_name, record)
    values ('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'session-a5000000-0000-4000-8000-000000000001', false) $$),
  '23514 stream_sessions_room_name_is_session',
  'a session''s room is its own, session-{id}, so no two sessions share one'
);
select is(
  pg_temp.violation($$
    update public.stream_sessions set status = 'starting', started_at = null
    where id = 'a5000000-0000-4000-8000-000000000001' $$),
  '23514 stream_sessions_monotonic',
  'a live session never goes back to starting'
);
select throws_like(
  $$ update public.stream_sessions set status = 'starting', started_at = null
     where id = 'a5000000-0000-4000-8000-000000000001' $$,
  'Cannot move session a5000000-0000-4000-8000-000000000001 back to starting: it went live at %',
  'the error says why, with the session and the time it went live'
);
select is(
  pg_temp.violation($$
    update public.stream_sessions set status = 'ended'
    where id = 'a5000000-0000-4000-8000-000000000001' $$),
  '23514 stream_sessions_lifecycle',
  'an ended session has ended_at and end_reason'
);
select is(
  pg_temp.violation($$
    update public.stream_sessions
    set status = 'ended', ended_at = now(), end_reason = 'streamer_ended', duration_seconds = 61.5
    where id = 'a5000000-0000-4000-8000-000000000001' $$),
  'no error',
  'a live session can end'
);
select is(
  pg_temp.violation($$
    insert into public.stream_sessions (id, streamer_id, room_name, record)
    values ('c2000000-0000-4000-8000-000000000002', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'session-c2000000-0000-4000-8000-000000000002', false) $$),
  'no error',
  'a streamer can start a new session once the last one ended'
);
select is(
  pg_temp.violation($$
    update public.stream_sessions set status = 'live', ended_at = null, end_reason = null
    where id = 'a5000000-0000-4000-8000-000000000001' $$),
  '23514 stream_sessions_monotonic',
  'an ended session never goes back to live'
);
select is(
  pg_temp.violation($$
    update public.stream_sessions set ended_at = ended_at + interval '1 minute'
    where id = 'a5000000-0000-4000-8000-000000000001' $$),
  '23514 stream_sessions_monotonic',
  'an ended session keeps its ended_at'
);
select is(
  pg_temp.violation($$
    update public.stream_sessions set end_reason = 'abandoned'
    where id = 'a5000000-0000-4000-8000-000000000001' $$),
  '23514 stream_sessions_monotonic',
  'an ended session keeps its end_reason'
);
select is(
  pg_temp.violation($$
    update public.stream_sessions set status = 'ended', title = 'Renamed after the end'
    where id = 'a5000000-0000-4000-8000-000000000001' $$),
  'no error',
  'ending an ended session again, or renaming it, is fine'
);
select is(
  pg_temp.violation($$
    insert into public.stream_sessions (id, streamer_id, room_name, status, record)
    values ('c3000000-0000-4000-8000-000000000003', 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'session-c3000000-0000-4000-8000-000000000003', 'live', false) $$),
  '23514 stream_sessions_lifecycle',
  'a live session has started_at'
);
select is(
  pg_temp.violation($$
    insert into public.stream_sessions (id, streamer_id, room_name, started_at, record)
    values ('c3000000-0000-4000-8000-000000000003', 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'session-c3000000-0000-4000-8000-000000000003', now(), false) $$),
  '23514 stream_sessions_lifecycle',
  'a starting session has not started yet'
);
select is(
  pg_temp.violation($$
    insert into public.stream_sessions (id, streamer_id, room_name, record, viewers_current, viewers_peak)
    values ('c3000000-0000-4000-8000-000000000003', 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'session-c3000000-0000-4000-8000-000000000003', false, 3, 2) $$),
  '23514 stream_sessions_viewers_check',
  'the viewer peak is at least the current count'
);
select is(
  pg_temp.violation($$
    insert into public.stream_sessions (id, streamer_id, room_name, record, title)
    values ('c3000000-0000-4000-8000-000000000003', 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'session-c3000000-0000-4000-8000-000000000003', false, repeat('x', 121)) $$),
  '23514 stream_sessions_title_length',
  'titles are at most 120 characters'
);
select is(
  pg_temp.violation($$
    insert into public.stream_sessions (id, streamer_id, room_name, record, end_reason)
    values ('c3000000-0000-4000-8000-000000000003', 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'session-c3000000-0000-4000-8000-000000000003', false, 'bored') $$),
  '23514 stream_sessions_end_reason_check',
  'end reasons come from the contract'
);

-- Recordings --------------------------------------------------------------------------------

insert into public.recordings (id, session_id, streamer_id, source, status, egress_id)
values ('ae000000-0000-4000-8000-000000000001', 'a5000000-0000-4000-8000-000000000001',
  'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'egress', 'pending', 'EG_c_1');

select is(
  pg_temp.violation($$
    insert into public.recordings (session_id, streamer_id, source, status, egress_id)
    values ('a5000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
      'egress', 'pending', 'EG_c_1') $$),
  '23505 recordings_egress_id_key',
  'an egress id belongs to one recording'
);
select is(
  pg_temp.violation($$
    insert into public.recordings (session_id, streamer_id, source, status)
    values ('a5000000-0000-4000-8000-000000000001', 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb',
      'egress', 'pending') $$),
  '23503 recordings_session_streamer_fkey',
  'a recording''s streamer is its session''s streamer'
);
select is(
  pg_temp.violation($$
    insert into public.recordings (session_id, streamer_id, source, status, object_path)
    values ('a5000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
      'egress', 'pending', 'recordings/bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb/x/y.mp4') $$),
  '23514 recordings_object_path_scoped',
  'objects live under recordings/{streamerId}/{sessionId}/'
);
select is(
  pg_temp.violation($$
    insert into public.recordings
      (session_id, streamer_id, source, status, egress_id, expected_size_bytes)
    values ('a5000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
      'upload', 'uploading', 'EG_c_upload', 100) $$),
  '23514 recordings_upload_check',
  'uploads have no egress id'
);
select is(
  pg_temp.violation($$
    insert into public.recordings (session_id, streamer_id, source, status, expected_size_bytes)
    values ('a5000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
      'upload', 'recording', 100) $$),
  '23514 recordings_upload_check',
  'uploads are never pending, recording or processing'
);
select is(
  pg_temp.violation($$
    insert into public.recordings (session_id, streamer_id, source, status)
    values ('a5000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
      'upload', 'uploading') $$),
  '23514 recordings_upload_check',
  'uploads declare their expected size'
);
select is(
  pg_temp.violation($$
    insert into public.recordings (session_id, streamer_id, source, status, expected_size_bytes)
    values ('a5000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
      'upload', 'uploading', 524288001) $$),
  '23514 recordings_upload_check',
  'uploads are at most 500 MiB'
);
select is(
  pg_temp.violation($$
    insert into public.recordings (session_id, streamer_id, source, status, expected_size_bytes)
    values ('a5000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
      'upload', 'uploading', 524288000) $$),
  'no error',
  'an upload of exactly 500 MiB is fine'
);
select is(
  pg_temp.violation($$
    insert into public.recordings (session_id, streamer_id, source, status)
    values ('a5000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
      'egress', 'uploading') $$),
  '23514 recordings_egress_check',
  'egress recordings are never uploading'
);
select is(
  pg_temp.violation($$
    insert into public.recordings (session_id, streamer_id, source, status, content_type)
    values ('a5000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
      'egress', 'pending', 'video/webm') $$),
  '23514 recordings_egress_check',
  'egress recordings are video/mp4'
);
select is(
  pg_temp.violation($$
    update public.recordings set status = 'ready'
    where id = 'ae000000-0000-4000-8000-000000000001' $$),
  '23514 recordings_ready_at',
  'a ready recording has ready_at'
);
select is(
  pg_temp.violation($$
    update public.recordings set status = 'recording', started_at = now()
    where id = 'ae000000-0000-4000-8000-000000000001' $$),
  'no error',
  'pending -> recording'
);
select is(
  pg_temp.violation($$
    update public.recordings set status = 'pending'
    where id = 'ae000000-0000-4000-8000-000000000001' $$),
  '23514 recordings_monotonic',
  'recording never goes back to pending'
);
select is(
  pg_temp.violation($$
    update public.recordings set status = 'processing'
    where id = 'ae000000-0000-4000-8000-000000000001' $$),
  'no error',
  'recording -> processing'
);
select is(
  pg_temp.violation($$
    update public.recordings set status = 'ready', ready_at = now(), size_bytes = 10
    where id = 'ae000000-0000-4000-8000-000000000001' $$),
  'no error',
  'processing -> ready'
);
select is(
  pg_temp.violation($$
    update public.recordings set status = 'processing'
    where id = 'ae000000-0000-4000-8000-000000000001' $$),
  '23514 recordings_monotonic',
  'ready never goes back to processing'
);
select is(
  pg_temp.violation($$
    update public.recordings set status = 'failed', error = 'late failure'
    where id = 'ae000000-0000-4000-8000-000000000001' $$),
  '23514 recordings_monotonic',
  'ready never becomes failed'
);
select is(
  pg_temp.violation($$
    update public.recordings set session_id = 'a5000000-0000-4000-8000-000000000001',
      streamer_id = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb'
    where id = 'ae000000-0000-4000-8000-000000000001' $$),
  '23514 recordings_immutable',
  'a recording never moves to another streamer'
);
select is(
  pg_temp.violation($$
    update public.recordings set status = 'deleted'
    where id = 'ae000000-0000-4000-8000-000000000001' $$),
  '23514 recordings_deleted_at',
  'a deleted recording has deleted_at'
);
select is(
  pg_temp.violation($$
    update public.recordings set status = 'deleted', deleted_at = now()
    where id = 'ae000000-0000-4000-8000-000000000001' $$),
  'no error',
  'ready -> deleted'
);
select is(
  pg_temp.violation($$
    update public.recordings set status = 'ready'
    where id = 'ae000000-0000-4000-8000-000000000001' $$),
  '23514 recordings_monotonic',
  'deleted is final'
);

insert into public.recordings (id, session_id, streamer_id, source, status, expected_size_bytes)
values ('ae000000-0000-4000-8000-000000000002', 'a5000000-0000-4000-8000-000000000001',
  'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'upload', 'uploading', 100);

select is(
  pg_temp.violation($$
    update public.recordings set status = 'recording'
    where id = 'ae000000-0000-4000-8000-000000000002' $$),
  '23514 recordings_monotonic',
  'uploading never goes to recording'
);
select is(
  pg_temp.violation($$
    update public.recordings set status = 'failed', error = 'object missing'
    where id = 'ae000000-0000-4000-8000-000000000002' $$),
  'no error',
  'uploading -> failed'
);
select is(
  pg_temp.violation($$
    update public.recordings set status = 'ready', ready_at = now()
    where id = 'ae000000-0000-4000-8000-000000000002' $$),
  '23514 recordings_monotonic',
  'failed never becomes ready'
);
select is(
  pg_temp.violation($$
    update public.recordings set status = 'deleted', deleted_at = now()
    where id = 'ae000000-0000-4000-8000-000000000002' $$),
  'no error',
  'failed -> deleted'
);

-- Session participants ----------------------------------------------------------------------

insert into public.session_participants (session_id, participant_sid, identity, kind, joined_at)
values ('a5000000-0000-4000-8000-000000000001', 'PA_c_1', 'viewer:1', 'viewer', now());

select is(
  pg_temp.violation($$
    insert into public.session_participants
      (session_id, participant_sid, identity, kind, joined_at)
    values ('a5000000-0000-4000-8000-000000000001', 'PA_c_1', 'viewer:1', 'viewer', now()) $$),
  '23505 session_participants_session_sid_key',
  'a participant sid is recorded once per session'
);
select is(
  pg_temp.violation($$
    update public.session_participants set left_at = joined_at - interval '1 second'
    where participant_sid = 'PA_c_1' $$),
  '23514 session_participants_left_after_joined',
  'a participant leaves after joining'
);

-- Guardians ---------------------------------------------------------------------------------

select is(
  pg_temp.violation($$
    insert into public.guardians (streamer_id, email)
    values ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', ' Mixed@Constraints.test') $$),
  '23514 guardians_email_normalised',
  'guardian emails are stored trimmed and lower-case'
);
select is(
  pg_temp.violation($$
    insert into public.guardians (streamer_id, email)
    values ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'no-at-sign') $$),
  '23514 guardians_email_format',
  'guardian emails have an @'
);
select is(
  pg_temp.violation($$
    insert into public.guardians (streamer_id, email)
    values ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', repeat('x', 250) || '@x.io') $$),
  '23514 guardians_email_length',
  'guardian emails are at most 254 characters'
);
select is(
  pg_temp.violation($$
    insert into public.guardians (streamer_id, email, status)
    values ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'eager@constraints.test', 'active') $$),
  '23514 guardians_active_confirmed',
  'an active guardian has confirmed'
);

insert into public.guardians (id, streamer_id, email)
values ('af000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
  'parent@constraints.test');

select is(
  pg_temp.violation($$
    insert into public.guardians (streamer_id, email)
    values ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'parent@constraints.test') $$),
  '23505 guardians_email_unique_per_streamer',
  'a streamer invites an email once'
);
select is(
  pg_temp.violation($$
    insert into public.guardians (streamer_id, email)
    values ('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'parent@constraints.test') $$),
  'no error',
  'another streamer may invite the same person'
);
select is(
  pg_temp.violation($$
    update public.guardians set status = 'active', confirmed_at = now()
    where id = 'af000000-0000-4000-8000-000000000001' $$),
  'no error',
  'pending -> active (consent)'
);
select is(
  pg_temp.violation($$
    update public.guardians set status = 'pending'
    where id = 'af000000-0000-4000-8000-000000000001' $$),
  '23514 guardians_monotonic',
  'consent never goes back to pending'
);
select is(
  pg_temp.violation($$
    update public.guardians set status = 'revoked', revoked_at = now()
    where id = 'af000000-0000-4000-8000-000000000001' $$),
  'no error',
  'active -> revoked'
);
select is(
  pg_temp.violation($$
    update public.guardians set status = 'active'
    where id = 'af000000-0000-4000-8000-000000000001' $$),
  '23514 guardians_monotonic',
  'revoked is final'
);
select is(
  pg_temp.violation($$
    insert into public.guardians (streamer_id, email)
    values ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'parent@constraints.test') $$),
  'no error',
  'a revoked guardian can be invited again (a new row)'
);

-- Streamer A now has 1 pending guardian (and 1 revoked); nine more reach the limit of 10.
insert into public.guardians (streamer_id, email)
select 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', format('limit-%s@constraints.test', n)
from generate_series(1, 9) as n;

select is(
  (select count(*)::integer from public.guardians
   where streamer_id = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa' and status in ('pending', 'active')),
  10,
  'a streamer can have 10 pending or active guardians'
);
select is(
  pg_temp.violation($$
    insert into public.guardians (streamer_id, email)
    values ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'eleventh@constraints.test') $$),
  '23514 guardians_limit',
  'an 11th pending or active guardian is refused'
);
select throws_like(
  $$ insert into public.guardians (streamer_id, email)
     values ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'eleventh@constraints.test') $$,
  'Cannot add guardian: streamer aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa already has 10 %',
  'the limit error names the streamer and the count'
);
select is(
  pg_temp.violation($$
    with revoked as (
      update public.guardians set status = 'revoked', revoked_at = now()
      where email = 'limit-1@constraints.test'
      returning 1
    )
    select count(*) from revoked $$),
  'no error',
  'revoking a guardian frees a place'
);
select is(
  pg_temp.violation($$
    insert into public.guardians (streamer_id, email)
    values ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'eleventh@constraints.test') $$),
  'no error',
  'a freed place can be used'
);

-- Account linking: never by email (rights follow proof: a signed-in account presenting the
-- guardian's link, private.guardian_bind_account) ---------------------------------------------

insert into auth.users (id, email, email_confirmed_at)
values
  ('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 'Linked@Constraints.test', now()),
  ('dddddddd-dddd-4ddd-8ddd-dddddddddddd', 'unconfirmed@constraints.test', null);

insert into public.guardians (id, streamer_id, email)
values
  ('ac000000-0000-4000-8000-000000000001', 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb',
    'linked@constraints.test'),
  ('ad000000-0000-4000-8000-000000000001', 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb',
    'unconfirmed@constraints.test'),
  ('ae000000-0000-4000-8000-000000000009', 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb',
    'later@constraints.test');

select is(
  (select user_id from public.guardians where id = 'ac000000-0000-4000-8000-000000000001'),
  null,
  'a new guardian is not linked to the account with that confirmed email'
);
select is(
  (select user_id from public.guardians where id = 'ad000000-0000-4000-8000-000000000001'),
  null,
  'a new guardian is not linked to an account whose email is unconfirmed'
);
update auth.users set email_confirmed_at = now() where id = 'dddddddd-dddd-4ddd-8ddd-dddddddddddd';
select is(
  (select user_id from public.guardians where id = 'ad000000-0000-4000-8000-000000000001'),
  null,
  'confirming the email links nothing'
);
insert into auth.users (id, email, email_confirmed_at)
values ('eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee', 'later@constraints.test', now());
select is(
  (select user_id from public.guardians where id = 'ae000000-0000-4000-8000-000000000009'),
  null,
  'an account created later with the same confirmed email is not linked'
);

-- Notification outbox -----------------------------------------------------------------------

insert into public.notification_outbox (kind, guardian_id, streamer_id, session_id, object_id)
values ('stream_started', 'ac000000-0000-4000-8000-000000000001',
  'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'a5000000-0000-4000-8000-000000000001',
  'a5000000-0000-4000-8000-000000000001');

select is(
  pg_temp.violation($$
    insert into public.notification_outbox
      (kind, guardian_id, streamer_id, session_id, object_id)
    values ('stream_started', 'ac000000-0000-4000-8000-000000000001',
      'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'a5000000-0000-4000-8000-000000000001',
      'a5000000-0000-4000-8000-000000000001') $$),
  '23505 notification_outbox_once',
  'a guardian gets one email of a kind about an object'
);
select is(
  pg_temp.violation($$
    insert into public.notification_outbox
      (kind, guardian_id, streamer_id, session_id, object_id)
    values ('stream_started', 'ad000000-0000-4000-8000-000000000001',
      'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'a5000000-0000-4000-8000-000000000001',
      'a5000000-0000-4000-8000-000000000001') $$),
  'no error',
  'another guardian gets their own email about the same session'
);
select is(
  pg_temp.violation($$
    insert into public.notification_outbox
      (kind, guardian_id, streamer_id, session_id, object_id)
    values ('stream_ended', 'ac000000-0000-4000-8000-000000000001',
      'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'a5000000-0000-4000-8000-000000000001',
      'ac000000-0000-4000-8000-000000000001') $$),
  '23514 notification_outbox_object_check',
  'a session email is about its session'
);
select is(
  pg_temp.violation($$
    update public.notification_outbox set status = 'sent'
    where guardian_id = 'ac000000-0000-4000-8000-000000000001' $$),
  '23514 notification_outbox_sent_at',
  'a sent email has sent_at'
);

-- Rate limiter ------------------------------------------------------------------------------

select results_eq(
  $$ select * from private.rate_limit_hit('c:key', 2, 60, '2026-01-01 00:00:00+00') $$,
  $$ values (true, 0) $$,
  'the first hit of a window is allowed'
);
select results_eq(
  $$ select * from private.rate_limit_hit('c:key', 2, 60, '2026-01-01 00:00:01+00') $$,
  $$ values (true, 0) $$,
  'hits up to the limit are allowed'
);
select results_eq(
  $$ select * from private.rate_limit_hit('c:key', 2, 60, '2026-01-01 00:00:10.5+00') $$,
  $$ values (false, 50) $$,
  'the hit over the limit is refused, retry after the rest of the window (rounded up)'
);
select results_eq(
  $$ select * from private.rate_limit_hit('c:key', 2, 60, '2026-01-01 00:00:59.9+00') $$,
  $$ values (false, 1) $$,
  'retry after is at least one second'
);
select results_eq(
  $$ select * from private.rate_limit_hit('c:key', 2, 60, '2026-01-01 00:01:00+00') $$,
  $$ values (true, 0) $$,
  'a new window starts when the last one elapsed'
);
select results_eq(
  $$ select window_start, hits from public.rate_limit_buckets where key = 'c:key' $$,
  $$ values ('2026-01-01 00:01:00+00'::timestamptz, 1) $$,
  'the bucket holds the current window and its hits'
);
select throws_ok(
  $$ select * from private.rate_limit_hit('c:key', 0, 60, now()) $$,
  '22023', null,
  'a limit below 1 is refused'
);

select * from finish();
rollback;
