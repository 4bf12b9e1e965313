-- A streamer connection's egress restart in three short steps
-- (20261206100000_egress_restart_claim.sql): private.webhook_apply claims the restart for one
-- event in private.egress_restart_claims; private.webhook_egress_restarted records the egress
-- LiveKit started and drops the claim, or private.webhook_release_egress_claim drops it when
-- LiveKit failed. One claim per session until it expires; none of it reachable through the Data
-- API.
begin;
create extension if not exists pgtap;
select plan(25);

-- Streamer aaaaaaaa… with session a6… live and recorded, whose connection's egress has ended
-- (ready) while it stayed, so nothing records them when they publish again.
insert into auth.users (id, email, email_confirmed_at)
values ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'streamer@claim.test', now());

insert into public.stream_sessions (id, streamer_id, room_name, record, status, created_at,
  started_at)
values ('a6000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
  'session-a6000000-0000-4000-8000-000000000001', true, 'live', '2026-12-01 09:59:00+00',
  '2026-12-01 10:00:00+00');

-- The streamer's track_published through private.webhook_apply at 10:10 plus p_second seconds,
-- as "outcome|restart_egress". webhook_apply makes the rest of the transaction service_role's,
-- so the role is reset before the next test.
create function pg_temp.published(p_id text, p_second integer)
returns text
language plpgsql
as $$
declare
  v_at timestamptz := '2026-12-01 10:10:00+00'::timestamptz + make_interval(secs => p_second);
  v_result text;
begin
  select format('%s|%s', a.outcome, a.restart_egress::text) into v_result
    from private.webhook_apply(
      p_id => p_id, p_event => 'track_published',
      p_room => 'session-a6000000-0000-4000-8000-000000000001',
      p_payload => jsonb_build_object('id', p_id, 'event', 'track_published'),
      p_at => v_at, p_now => v_at,
      p_input => jsonb_build_object(
        'participant', jsonb_build_object('sid', 'PA_S',
          'identity', 'streamer:aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'kind', 'streamer',
          'userId', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'),
        'egress', null, 'recordingConfigured', true)) a;
  reset role;
  return v_result;
end
$$;

create function pg_temp.claim() returns text
language sql
as $$
  select coalesce((select format('%s until %s', c.event_id,
                                 to_char(c.expires_at at time zone 'UTC', 'HH24:MI:SS'))
                     from private.egress_restart_claims c
                    where c.session_id = 'a6000000-0000-4000-8000-000000000001'), 'none')
$$;

-- The streamer's connection PA_S published while the session's pending recording
-- (stream_sessions_create_pending_recording) waited for the room's auto egress; that egress
-- recorded PA_S and ended while PA_S stayed (its limit, say), so a publish of PA_S now finds
-- nothing recording it (20261206110000_auto_egress_per_connection.sql).
select is(pg_temp.published('EV_first', -600), 'egress already recording|false',
  'the connection''s first publish leaves it to the room''s auto egress');
update public.recordings
   set egress_id = 'EG_first', status = 'ready', ready_at = '2026-12-01 10:05:00+00',
       object_path = 'recordings/aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa/'
                     'a6000000-0000-4000-8000-000000000001/a.mp4'
 where session_id = 'a6000000-0000-4000-8000-000000000001';

-- One claim per session ------------------------------------------------------------------------

select is(pg_temp.published('EV_video', 0), 'egress to restart|true',
  'the connection''s next track_published claims the restart');
select is(pg_temp.claim(), 'EV_video until 10:13:00',
  'the claim is the event''s and lasts three minutes');
select ok(not exists (select 1 from public.webhook_events where id = 'EV_video'),
  'the claiming event is not in the ledger yet: the restart records it');
select is(pg_temp.published('EV_audio', 1), 'egress restart already claimed|false',
  'the audio track_published of the same republish restarts nothing');
select is((select outcome from public.webhook_events where id = 'EV_audio'), 'processed',
  'and is recorded, so LiveKit need not retry it');
select is(pg_temp.published('EV_video', 2), 'duplicate|false',
  'another delivery of the claiming event is a duplicate');
select ok(not exists (select 1 from public.webhook_events where id = 'EV_video'),
  'which leaves the ledger to the delivery that holds the claim');

-- Released when LiveKit failed ------------------------------------------------------------------

select is(private.webhook_release_egress_claim('a6000000-0000-4000-8000-000000000001', 'EV_audio'),
  false, 'an event that holds no claim releases nothing');
select is(pg_temp.claim(), 'EV_video until 10:13:00', 'the claim is still the video event''s');
select is(private.webhook_release_egress_claim('a6000000-0000-4000-8000-000000000001', 'EV_video'),
  true, 'the claiming event releases its claim when LiveKit failed');
select is(pg_temp.claim(), 'none', 'no claim is left behind');
select is(pg_temp.published('EV_video', 5), 'egress to restart|true',
  'LiveKit''s retry of the event claims the restart again');

-- A claim left by a process that died ----------------------------------------------------------

select is(pg_temp.published('EV_later', 120), 'egress restart already claimed|false',
  'an unexpired claim holds, whoever asks');
select is(pg_temp.published('EV_expired', 185), 'egress to restart|true',
  'an expired claim is taken again');
select is(pg_temp.claim(), 'EV_expired until 10:16:05', 'by the event that took it');

-- Recorded after LiveKit started the egress -----------------------------------------------------

select is(
  private.webhook_egress_restarted(
    p_id => 'EV_expired', p_event => 'track_published',
    p_room => 'session-a6000000-0000-4000-8000-000000000001',
    p_payload => '{"id": "EV_expired", "event": "track_published"}',
    p_now => '2026-12-01 10:13:06+00', p_started => '2026-12-01 10:13:06+00',
    p_egress_id => 'EG_restarted'),
  'egress restarted',
  'the restart''s last step records the egress'
);
reset role;
select results_eq(
  $$select egress_id, status from public.recordings
     where session_id = 'a6000000-0000-4000-8000-000000000001' order by created_at$$,
  $$values ('EG_first'::text, 'ready'::text), ('EG_restarted', 'pending')$$,
  'as a pending recording of the session, beside the first'
);
select is(pg_temp.claim(), 'none', 'and drops the claim');
select is((select outcome from public.webhook_events where id = 'EV_expired'), 'processed',
  'and records the event');
select is(pg_temp.published('EV_next', 190), 'egress already recording|false',
  'a track_published now finds the streamer recorded');

-- Nobody but the owner -------------------------------------------------------------------------

select ok(
  not exists (
    select 1
      from pg_proc p, unnest(array['anon', 'authenticated', 'service_role']) as r(role)
     where p.pronamespace = 'private'::regnamespace
       and p.proname in ('webhook_apply', 'webhook_egress_restarted',
                         'webhook_release_egress_claim')
       and has_function_privilege(r.role, p.oid, 'execute')
  ),
  'no API role may call the restart''s steps'
);
select ok(
  not exists (
    select 1
      from unnest(array['anon', 'authenticated']) as r(role),
           unnest(array['select', 'insert', 'update', 'delete']) as p(privilege)
     where has_table_privilege(r.role, 'private.egress_restart_claims', p.privilege)
  ),
  'no Data API role may read or write the claims'
);
select ok(
  not exists (select 1 from pg_catalog.pg_class c
               where c.oid = 'private.egress_restart_claims'::regclass
                 and (not c.relrowsecurity or obj_description(c.oid, 'pg_class') is null)),
  'the claims table has row level security and a comment'
);

-- A session that goes takes its claim -----------------------------------------------------------

insert into private.egress_restart_claims (session_id, event_id, claimed_at, expires_at)
values ('a6000000-0000-4000-8000-000000000001', 'EV_gone', '2026-12-01 10:20:00+00',
  '2026-12-01 10:23:00+00');
delete from public.stream_sessions where id = 'a6000000-0000-4000-8000-000000000001';
select is((select count(*)::int from private.egress_restart_claims), 0,
  'deleting a session deletes its claim');

select * from finish();
rollback;
