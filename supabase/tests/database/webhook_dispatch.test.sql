-- The LiveKit webhook's one dispatch (20261206070000_webhook_one_dispatch.sql):
-- private.webhook_apply chooses each event's effect in its case and answers typed flags
-- (emails_queued, restart_egress) beside an outcome for logs; the participant upsert and the
-- session's duration are one rule each; a connection aborted before it joined counts no viewer;
-- an auto egress that failed without an id fails the session's recording with its reason; and
-- none of it can be called through the Data API.
begin;
create extension if not exists pgtap;
select plan(27);

-- streamer aaaaaaaa… with an active guardian cccccccc… (who wants "stream started" and
-- "recording ready", not "stream ended"); another streamer bbbbbbbb…. Session a5… (recorded)
-- takes the events; bbbbbbbb…'s session b5… (recorded) takes the egress orders.
insert into auth.users (id, email, email_confirmed_at)
values
  ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'streamer@dispatch.test', now()),
  ('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'other@dispatch.test', now());

insert into public.guardians (id, streamer_id, email, status, confirmed_at)
values ('ac000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
  'guardian@dispatch.test', 'active', now());

insert into public.stream_sessions (id, streamer_id, room_name, record, created_at)
values
  ('a5000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
    'session-a5000000-0000-4000-8000-000000000001', true, '2026-12-01 10:00:00+00'),
  ('b5000000-0000-4000-8000-000000000001', 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb',
    'session-b5000000-0000-4000-8000-000000000001', true, '2026-12-01 10:00:00+00');

-- One event through private.webhook_apply at 10:00 plus p_second seconds, as
-- "outcome|emails_queued|restart_egress". webhook_apply makes the rest of the transaction
-- service_role's, so the role is reset before the next test.
create function pg_temp.apply(
  p_id text,
  p_event text,
  p_room text,
  p_input jsonb,
  p_second integer
)
returns text
language plpgsql
as $$
declare
  v_at timestamptz := '2026-12-01 10:00:00+00'::timestamptz + make_interval(secs => p_second);
  v_result text;
begin
  select format('%s|%s|%s', a.outcome, a.emails_queued::text, a.restart_egress::text)
    into v_result
    from private.webhook_apply(
      p_id => p_id, p_event => p_event, p_room => p_room,
      p_payload => jsonb_build_object('id', p_id, 'event', p_event),
      p_at => v_at, p_now => v_at, p_input => p_input) a;
  reset role;
  return v_result;
end
$$;

create function pg_temp.participant(p_sid text, p_identity text) returns jsonb
language sql
as $$
  select jsonb_build_object('participant', jsonb_build_object('sid', p_sid, 'identity', p_identity)
    || case
         when p_identity like 'streamer:%' then
           jsonb_build_object('kind', 'streamer', 'userId', split_part(p_identity, ':', 2))
         else jsonb_build_object('kind', 'guardian', 'guardianId', split_part(p_identity, ':', 2))
       end,
    'egress', null, 'recordingConfigured', true)
$$;

create function pg_temp.failed_auto_egress() returns jsonb
language sql
as $$
  select jsonb_build_object('participant', null, 'recordingConfigured', true, 'egress',
    jsonb_build_object('egressId', '', 'status', 'failed', 'truncated', false,
      'startedAt', null, 'endedAt', null, 'error', 'no response from servers',
      'objectPath', null, 'sizeBytes', null, 'durationSeconds', null))
$$;

create function pg_temp.viewers(p_session uuid) returns text
language sql
as $$
  select format('%s/%s/%s', viewers_current, viewers_peak, viewers_total)
    from public.stream_sessions where id = p_session
$$;

-- Nobody but the owner ------------------------------------------------------------------------

select ok(
  not exists (
    select 1
      from pg_proc p, unnest(array['anon', 'authenticated']) as r(role)
     where p.pronamespace = 'private'::regnamespace
       and p.proname in ('webhook_apply', 'session_duration', 'upsert_participant',
                         'webhook_participant_joined', 'webhook_participant_left',
                         'webhook_participant_connection_aborted', 'webhook_track_published',
                         'apply_egress_report', 'refresh_session_derived')
       and has_function_privilege(r.role, p.oid, 'execute')
  ),
  'no Data API role may call the webhook''s functions'
);
select ok(
  not has_function_privilege('service_role',
    'private.webhook_apply(text, text, text, jsonb, timestamptz, timestamptz, jsonb)', 'execute'),
  'webhook_apply, which becomes service_role, is the owner''s alone'
);

-- The session's duration ---------------------------------------------------------------------

select is(private.session_duration(null, '2026-12-01 10:00:00+00'), null,
  'no duration for a session the streamer never joined');
select is(private.session_duration('2026-12-01 10:00:00+00', '2026-12-01 10:01:30+00'), 90::numeric,
  'the duration is from the start to the end in seconds');
select is(private.session_duration('2026-12-01 10:01:00+00', '2026-12-01 10:00:00+00'), 0::numeric,
  'never negative');

-- Participants -------------------------------------------------------------------------------

select is(
  pg_temp.apply('EV_s1', 'participant_joined', 'session-a5000000-0000-4000-8000-000000000001',
    pg_temp.participant('PA_S', 'streamer:aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'), 0),
  'session live|true|false',
  'the streamer''s join makes the session live and says it queued email'
);
select is(
  pg_temp.apply('EV_s1', 'participant_joined', 'session-a5000000-0000-4000-8000-000000000001',
    pg_temp.participant('PA_S', 'streamer:aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'), 0),
  'duplicate|false|false',
  'the same event id again is a duplicate with no flag'
);
select is(
  pg_temp.apply('EV_x1', 'participant_joined', 'session-a5000000-0000-4000-8000-000000000001',
    pg_temp.participant('PA_X', 'streamer:bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb'), 1),
  'ignored: another streamer''s identity|false|false',
  'another streamer''s identity in the room changes nothing'
);
select is(
  pg_temp.apply('EV_e1', 'participant_joined', 'session-a5000000-0000-4000-8000-000000000001',
    '{"participant": null, "egress": null, "recordingConfigured": true}', 1),
  'ignored: not the streamer or a viewer|false|false',
  'a join readEvent found no participant in (a recorder) changes nothing'
);
select is(
  pg_temp.apply('EV_a1', 'participant_connection_aborted',
    'session-a5000000-0000-4000-8000-000000000001',
    pg_temp.participant('PA_A', 'guardian:ac000000-0000-4000-8000-000000000001'), 20),
  'connection aborted before joining|false|false',
  'a connection aborted before it joined is recorded as such'
);
select is(pg_temp.viewers('a5000000-0000-4000-8000-000000000001'), '0/0/0',
  'and counts no viewer');
select is(
  pg_temp.apply('EV_a2', 'participant_joined', 'session-a5000000-0000-4000-8000-000000000001',
    pg_temp.participant('PA_A', 'guardian:ac000000-0000-4000-8000-000000000001'), 10),
  'viewer joined|false|false',
  'its join, processed later, completes the row'
);
select is(pg_temp.viewers('a5000000-0000-4000-8000-000000000001'), '0/1/1',
  'so it counts as a viewer who left when its connection aborted');
select is(
  pg_temp.apply('EV_l1', 'participant_left', 'session-a5000000-0000-4000-8000-000000000001',
    pg_temp.participant('PA_L', 'guardian:ac000000-0000-4000-8000-000000000001'), 40),
  'viewer left|false|false',
  'a leave processed before its join'
);
select pg_temp.apply('EV_l2', 'participant_joined', 'session-a5000000-0000-4000-8000-000000000001',
  pg_temp.participant('PA_L', 'guardian:ac000000-0000-4000-8000-000000000001'), 15);
select results_eq(
  $$select participant_sid, joined_at, left_at, joined from public.session_participants
     where session_id = 'a5000000-0000-4000-8000-000000000001' and kind = 'viewer'
     order by participant_sid$$,
  $$values ('PA_A', '2026-12-01 10:00:10+00'::timestamptz, '2026-12-01 10:00:20+00'::timestamptz,
            true),
           ('PA_L', '2026-12-01 10:00:15+00'::timestamptz, '2026-12-01 10:00:40+00'::timestamptz,
            true)$$,
  'one row per connection, with the earliest join and the leave, whatever came first'
);
select is(pg_temp.viewers('a5000000-0000-4000-8000-000000000001'), '0/2/2',
  'peak and total from the intervals');

-- track_published ----------------------------------------------------------------------------

select is(
  pg_temp.apply('EV_t1', 'track_published', 'session-a5000000-0000-4000-8000-000000000001',
    pg_temp.participant('PA_S', 'streamer:aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'), 2),
  'egress already recording|false|false',
  'no restart while the session''s pending recording waits for its egress'
);
select is(
  pg_temp.apply('EV_f1', 'egress_ended', 'session-a5000000-0000-4000-8000-000000000001',
    pg_temp.failed_auto_egress(), 22),
  'recording updated (failed)|false|false',
  'an auto egress that failed without an id fails the pending recording'
);
select is(
  pg_temp.apply('EV_t2', 'track_published', 'session-a5000000-0000-4000-8000-000000000001',
    pg_temp.participant('PA_S', 'streamer:aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'), 30),
  'egress to restart|false|true',
  'then a streamer who publishes is to be recorded again (restart_egress)'
);
select ok(
  not exists (select 1 from public.webhook_events where id = 'EV_t2'),
  'and that event is left for livekit-webhook to record with LiveKit''s answer'
);
select is(
  pg_temp.apply('EV_t3', 'track_published', 'session-a5000000-0000-4000-8000-000000000001',
    pg_temp.participant('PA_S', 'streamer:aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa')
      || '{"recordingConfigured": false}', 31),
  'ignored: session not live and recorded|false|false',
  'without a recording target nothing is restarted'
);

-- room_finished and other events ---------------------------------------------------------------

select is(
  pg_temp.apply('EV_r1', 'room_finished', 'session-a5000000-0000-4000-8000-000000000001',
    '{"participant": null, "egress": null, "recordingConfigured": true}', 90),
  'session ended|false|false',
  'the end queues no email when no guardian wants one'
);
select is(
  (select duration_seconds from public.stream_sessions
    where id = 'a5000000-0000-4000-8000-000000000001'),
  90::numeric,
  'the ended session''s duration is private.session_duration''s'
);
select is(
  pg_temp.apply('EV_o1', 'room_started', 'session-a5000000-0000-4000-8000-000000000001',
    '{"participant": null, "egress": null, "recordingConfigured": true}', 91),
  'ignored: room_started changes nothing here|false|false',
  'an event with no effect is acknowledged by the case''s else'
);
select is(
  (select outcome from public.webhook_events where id = 'EV_o1'),
  'processed',
  'and is in the ledger, so it counts once'
);

-- A failed auto egress after a report with an id claimed the pending recording ---------------

select pg_temp.apply('EV_b1', 'egress_started', 'session-b5000000-0000-4000-8000-000000000001',
  jsonb_build_object('participant', null, 'recordingConfigured', true, 'egress',
    jsonb_build_object('egressId', 'EG_b1', 'status', 'recording', 'truncated', false,
      'startedAt', '2026-12-01 10:00:05+00', 'endedAt', null, 'error', null,
      'objectPath', null, 'sizeBytes', null, 'durationSeconds', null)), 5);
select pg_temp.apply('EV_b2', 'room_finished', 'session-b5000000-0000-4000-8000-000000000001',
  '{"participant": null, "egress": null, "recordingConfigured": true}', 30);
select is(
  pg_temp.apply('EV_b3', 'egress_ended', 'session-b5000000-0000-4000-8000-000000000001',
    pg_temp.failed_auto_egress(), 51),
  'recording created (failed)|false|false',
  'after room_finished, a failed auto egress keeps its failure with its reason'
);
select results_eq(
  $$select egress_id, status, error from public.recordings
     where session_id = 'b5000000-0000-4000-8000-000000000001' order by egress_id nulls first$$,
  $$values (null::text, 'failed'::text, 'no response from servers'::text),
           ('EG_b1', 'recording', null)$$,
  'beside the egress that claimed the pending recording, as in the other order'
);

select * from finish();
rollback;
