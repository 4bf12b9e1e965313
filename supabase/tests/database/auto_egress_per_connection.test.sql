-- Each streamer connection is recorded by the room's auto egress, which LiveKit starts on the
-- connection's first publish (a rejoin is a new connection); the webhook restarts egress only
-- for a connection that published before, when nothing records the session and every auto
-- egress has reported (20261206110000_auto_egress_per_connection.sql: session_participants'
-- published, private.egress_restarts, private.webhook_track_published through
-- private.webhook_apply).
begin;
create extension if not exists pgtap;
select plan(22);

insert into auth.users (id, email, email_confirmed_at)
values ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'streamer@per-connection.test', now());
insert into public.guardians (id, streamer_id, email, status, confirmed_at)
values ('ac000000-0000-4000-8000-0000000000a1', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
  'guardian@per-connection.test', 'active', now());

-- Session a7… is recorded; its pending recording (stream_sessions_create_pending_recording)
-- waits for the first connection's auto egress.
insert into public.stream_sessions (id, streamer_id, room_name, record, created_at)
values ('a7000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
  'session-a7000000-0000-4000-8000-000000000001', true, '2026-12-01 10:00:00+00');

-- One event through private.webhook_apply at 10:00 plus p_second seconds, as
-- "outcome|restart_egress"; the role webhook_apply takes is reset before the next test.
create function pg_temp.apply(p_id text, p_event text, p_input jsonb, p_second integer)
returns text
language plpgsql
as $$
declare
  v_at timestamptz := '2026-12-01 10:00:00+00'::timestamptz + make_interval(secs => p_second);
  v_result text;
begin
  select format('%s|%s', a.outcome, a.restart_egress::text) into v_result
    from private.webhook_apply(
      p_id => p_id, p_event => p_event,
      p_room => 'session-a7000000-0000-4000-8000-000000000001',
      p_payload => jsonb_build_object('id', p_id, 'event', p_event),
      p_at => v_at, p_now => v_at, p_input => p_input) a;
  reset role;
  return v_result;
end
$$;

-- The streamer's connection p_sid, as readEvent reads it.
create function pg_temp.streamer(p_sid text) returns jsonb
language sql
as $$
  select jsonb_build_object('participant', jsonb_build_object('sid', p_sid,
      'identity', 'streamer:aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'kind', 'streamer',
      'userId', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'),
    'egress', null, 'recordingConfigured', true)
$$;

-- An egress report of p_egress_id with p_status.
create function pg_temp.egress(p_egress_id text, p_status text) returns jsonb
language sql
as $$
  select jsonb_build_object('participant', null, 'recordingConfigured', true, 'egress',
    jsonb_build_object('egressId', p_egress_id, 'status', p_status, 'truncated', false,
      'startedAt', null, 'endedAt', null,
      'error', case when p_status = 'failed' then 'egress crashed' end,
      'objectPath', null, 'sizeBytes', null, 'durationSeconds', null))
$$;

create function pg_temp.published(p_sid text) returns boolean
language sql
as $$
  select p.published from public.session_participants p
   where p.session_id = 'a7000000-0000-4000-8000-000000000001' and p.participant_sid = p_sid
$$;

-- The first connection -------------------------------------------------------------------------

select is(pg_temp.apply('EV_j1', 'participant_joined', pg_temp.streamer('PA_1'), 1),
  'session live|false', 'the streamer''s first connection makes the session live');
select is(pg_temp.apply('EV_v1', 'track_published', pg_temp.streamer('PA_1'), 2),
  'egress already recording|false',
  'its first publish leaves it to the auto egress its pending recording waits for');
select ok(pg_temp.published('PA_1'), 'and marks the connection as published');
select is(pg_temp.apply('EV_e1', 'egress_started', pg_temp.egress('EG_1', 'recording'), 4),
  'recording updated (recording)|false', 'the auto egress takes the pending recording');

-- A rejoin: a new connection, which LiveKit records again by itself ------------------------------

select is(pg_temp.apply('EV_l1', 'participant_left', pg_temp.streamer('PA_1'), 10),
  'streamer left|false', 'the first connection drops');
select is(pg_temp.apply('EV_x1', 'egress_ended', pg_temp.egress('EG_1', 'ready'), 11),
  'recording updated (ready)|false', 'and its egress ends with it');
select is(pg_temp.apply('EV_v2', 'track_published', pg_temp.streamer('PA_2'), 12),
  'first publish of this connection: the room''s auto egress records it|false',
  'a rejoined connection''s first publish starts no egress: LiveKit''s auto egress does');
select is(pg_temp.apply('EV_a2', 'track_published', pg_temp.streamer('PA_2'), 12),
  'an auto egress has not reported yet|false',
  'nor does its audio track while that auto egress has not reported (the race of two egresses)');
select is(
  (select format('%s..%s', to_char(p.joined_at at time zone 'UTC', 'HH24:MI:SS'),
                 coalesce(to_char(p.left_at at time zone 'UTC', 'HH24:MI:SS'), 'open'))
     from public.session_participants p where p.participant_sid = 'PA_2'),
  '10:00:12..open', 'a publish before its join keeps the connection''s row at the event''s time');
select is(pg_temp.apply('EV_j2', 'participant_joined', pg_temp.streamer('PA_2'), 11),
  'streamer joined again|false', 'the join arrives late');
select is(
  (select to_char(p.joined_at at time zone 'UTC', 'HH24:MI:SS')
     from public.session_participants p where p.participant_sid = 'PA_2'),
  '10:00:11', 'and its earlier time wins');
select is(pg_temp.apply('EV_e2', 'egress_started', pg_temp.egress('EG_2', 'recording'), 13),
  'recording created (recording)|false', 'the rejoin''s auto egress reports');

-- The same connection, its egress ended while it stayed -----------------------------------------

select is(pg_temp.apply('EV_x2', 'egress_ended', pg_temp.egress('EG_2', 'failed'), 30),
  'recording updated (failed)|false', 'the egress of the connection that stays fails');
select is(pg_temp.apply('EV_v3', 'track_published', pg_temp.streamer('PA_2'), 31),
  'egress to restart|true',
  'that connection publishing again is recorded again by the webhook: LiveKit will not');
select is(
  private.webhook_egress_restarted(
    p_id => 'EV_v3', p_event => 'track_published',
    p_room => 'session-a7000000-0000-4000-8000-000000000001',
    p_payload => '{"id": "EV_v3", "event": "track_published"}',
    p_now => '2026-12-01 10:00:32+00', p_started => '2026-12-01 10:00:32+00',
    p_egress_id => 'EG_R'),
  'egress restarted', 'the restart is recorded');
reset role;
select is((select session_id::text from private.egress_restarts where egress_id = 'EG_R'),
  'a7000000-0000-4000-8000-000000000001', 'and noted as the webhook''s own egress');

-- Another rejoin: the webhook's own egress is no auto egress ------------------------------------

select is(pg_temp.apply('EV_l2', 'participant_left', pg_temp.streamer('PA_2'), 40),
  'streamer left|false', 'the second connection drops');
select is(pg_temp.apply('EV_xr', 'egress_ended', pg_temp.egress('EG_R', 'ready'), 41),
  'recording updated (ready)|false', 'and the restarted egress ends with it');
select is(pg_temp.apply('EV_v4', 'track_published', pg_temp.streamer('PA_3'), 42),
  'first publish of this connection: the room''s auto egress records it|false',
  'a third connection''s first publish is left to LiveKit');
select is(pg_temp.apply('EV_a4', 'track_published', pg_temp.streamer('PA_3'), 42),
  'an auto egress has not reported yet|false',
  'three connections published, two auto egresses reported: the restart does not count as one');

-- Not through the Data API ----------------------------------------------------------------------

select ok(
  not exists (
    select 1
      from unnest(array['anon', 'authenticated']) as r(role),
           unnest(array['select', 'insert', 'update', 'delete']) as p(privilege)
     where has_table_privilege(r.role, 'private.egress_restarts', p.privilege)
  ),
  'no Data API role may read or write the webhook''s egresses'
);
select ok(
  not exists (select 1 from pg_catalog.pg_class c
               where c.oid = 'private.egress_restarts'::regclass
                 and (not c.relrowsecurity or obj_description(c.oid, 'pg_class') is null)),
  'the table has row level security and a comment'
);

select * from finish();
rollback;
