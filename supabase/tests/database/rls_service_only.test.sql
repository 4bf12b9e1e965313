-- RLS matrix for the service-only tables public.notification_outbox, public.webhook_events
-- and public.rate_limit_buckets: anon, the owning streamer, another streamer, an active
-- guardian with an account and a revoked guardian are refused select, insert, update and
-- delete on each; service_role may do all four.
begin;
create extension if not exists pgtap;
select plan(72);

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

insert into public.notification_outbox (id, kind, guardian_id, streamer_id, object_id)
values
  ('a0000000-0000-4000-8000-000000000001', 'consent', 'ac000000-0000-4000-8000-000000000001',
    'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'ac000000-0000-4000-8000-000000000001');

insert into public.webhook_events (id, event, room_name, payload)
values ('EV_rls_1', 'room_started', 'rls-room', '{"event":"room_started"}');

insert into public.rate_limit_buckets (key, window_start, hits)
values ('rls:owner', now(), 1);

-- Each statement of the matrix, per table: what an actor would try.
create temporary table attempts (tbl text, operation text, statement text);
grant select on attempts to public;
insert into attempts (tbl, operation, statement)
values
  ('notification_outbox', 'select', 'select * from public.notification_outbox'),
  ('notification_outbox', 'insert',
    'insert into public.notification_outbox (kind, guardian_id, streamer_id, object_id) '
    || 'values (''consent'', ''ac000000-0000-4000-8000-000000000001'', '
    || '''aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'', ''ac000000-0000-4000-8000-000000000001'')'),
  ('notification_outbox', 'update', 'update public.notification_outbox set status = ''sent'''),
  ('notification_outbox', 'delete', 'delete from public.notification_outbox'),
  ('webhook_events', 'select', 'select * from public.webhook_events'),
  ('webhook_events', 'insert',
    'insert into public.webhook_events (id, event, payload) values (''EV_x'', ''x'', ''{}'')'),
  ('webhook_events', 'update', 'update public.webhook_events set outcome = ''failed'''),
  ('webhook_events', 'delete', 'delete from public.webhook_events'),
  ('rate_limit_buckets', 'select', 'select * from public.rate_limit_buckets'),
  ('rate_limit_buckets', 'insert',
    'insert into public.rate_limit_buckets (key, window_start, hits) values (''x'', now(), 0)'),
  ('rate_limit_buckets', 'update', 'update public.rate_limit_buckets set hits = 0'),
  ('rate_limit_buckets', 'delete', 'delete from public.rate_limit_buckets');

-- Twelve assertions: every attempt is refused with "permission denied" for this actor.
create function pg_temp.refused_everything(p_actor text) returns setof text
language plpgsql
as $$
declare
  v_attempt record;
begin
  for v_attempt in
    select * from attempts order by tbl, array_position(
      array['select', 'insert', 'update', 'delete'], operation)
  loop
    return next throws_ok(
      v_attempt.statement,
      '42501',
      format('permission denied for table %s', v_attempt.tbl),
      format('%s cannot %s %s', p_actor, v_attempt.operation, v_attempt.tbl)
    );
  end loop;
end
$$;

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
select * from pg_temp.refused_everything('anon');

-- the owning streamer ---------------------------------------------------------------------
reset role;
set local role authenticated;
select set_config('request.jwt.claims',
  '{"sub":"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa","role":"authenticated"}', true);
select * from pg_temp.refused_everything('the owning streamer');

-- another streamer ------------------------------------------------------------------------
select set_config('request.jwt.claims',
  '{"sub":"bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb","role":"authenticated"}', true);
select * from pg_temp.refused_everything('another streamer');

-- an active guardian ----------------------------------------------------------------------
select set_config('request.jwt.claims',
  '{"sub":"cccccccc-cccc-4ccc-8ccc-cccccccccccc","role":"authenticated"}', true);
select * from pg_temp.refused_everything('an active guardian');

-- a revoked guardian ----------------------------------------------------------------------
select set_config('request.jwt.claims',
  '{"sub":"dddddddd-dddd-4ddd-8ddd-dddddddddddd","role":"authenticated"}', true);
select * from pg_temp.refused_everything('a revoked guardian');

-- service_role ----------------------------------------------------------------------------
reset role;
set local role service_role;
select set_config('request.jwt.claims', '{"role":"service_role"}', true);

select results_eq(
  $$ select id from public.notification_outbox
     where id = 'a0000000-0000-4000-8000-000000000001' $$,
  array['a0000000-0000-4000-8000-000000000001'::uuid],
  'service_role can select the outbox'
);
select is(
  pg_temp.row_count($$
    insert into public.notification_outbox (kind, guardian_id, streamer_id, object_id)
    values ('consent', 'de000000-0000-4000-8000-000000000001',
      'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'de000000-0000-4000-8000-000000000001') $$),
  1,
  'service_role can insert into the outbox'
);
select is(
  pg_temp.row_count($$
    update public.notification_outbox
    set status = 'sent', sent_at = now(), attempts = attempts + 1
    where id = 'a0000000-0000-4000-8000-000000000001' $$),
  1,
  'service_role can update the outbox'
);
select is(
  pg_temp.row_count($$
    delete from public.notification_outbox where id = 'a0000000-0000-4000-8000-000000000001' $$),
  1,
  'service_role can delete from the outbox'
);

select results_eq(
  $$ select id from public.webhook_events where id = 'EV_rls_1' $$,
  array['EV_rls_1'],
  'service_role can select webhook events'
);
select is(
  pg_temp.row_count($$
    insert into public.webhook_events (id, event, payload)
    values ('EV_rls_2', 'egress_ended', '{}') $$),
  1,
  'service_role can insert webhook events'
);
select is(
  pg_temp.row_count($$
    update public.webhook_events set outcome = 'processed', processed_at = now()
    where id = 'EV_rls_1' $$),
  1,
  'service_role can update webhook events'
);
select is(
  pg_temp.row_count($$ delete from public.webhook_events where id = 'EV_rls_1' $$),
  1,
  'service_role can delete webhook events'
);

select results_eq(
  $$ select key from public.rate_limit_buckets where key = 'rls:owner' $$,
  array['rls:owner'],
  'service_role can select rate-limit buckets'
);
select is(
  pg_temp.row_count($$
    insert into public.rate_limit_buckets (key, window_start, hits)
    values ('rls:other', now(), 1) $$),
  1,
  'service_role can insert rate-limit buckets'
);
select is(
  pg_temp.row_count($$ update public.rate_limit_buckets set hits = 0 where key = 'rls:owner' $$),
  1,
  'service_role can update rate-limit buckets'
);
select is(
  pg_temp.row_count($$ delete from public.rate_limit_buckets where key like 'rls:%' $$),
  2,
  'service_role can delete rate-limit buckets'
);

select * from finish();
rollback;
