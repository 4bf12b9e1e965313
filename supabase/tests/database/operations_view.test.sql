-- The operator's view and reconcile's run log are owner only: no Data API role (anon,
-- authenticated) and not even service_role may call private.ops_overview or
-- private.record_reconcile_run, or read private.reconcile_runs; a run keeps a contract error code
-- and never a message. The figures themselves are tested against real rows in
-- tests/functions/ops.test.ts.
begin;
create extension if not exists pgtap;
select plan(10);

select ok(
  not has_function_privilege('anon', 'private.ops_overview(timestamptz)', 'execute')
  and not has_function_privilege('authenticated', 'private.ops_overview(timestamptz)', 'execute')
  and not has_function_privilege('service_role', 'private.ops_overview(timestamptz)', 'execute'),
  'no role but the owner may call private.ops_overview'
);
select ok(
  not has_function_privilege('anon',
    'private.record_reconcile_run(timestamptz, timestamptz, text, jsonb, text)', 'execute')
  and not has_function_privilege('authenticated',
    'private.record_reconcile_run(timestamptz, timestamptz, text, jsonb, text)', 'execute')
  and not has_function_privilege('service_role',
    'private.record_reconcile_run(timestamptz, timestamptz, text, jsonb, text)', 'execute'),
  'no role but the owner may record a reconcile run'
);
select ok(
  not has_table_privilege('anon', 'private.reconcile_runs', 'select')
  and not has_table_privilege('authenticated', 'private.reconcile_runs', 'select')
  and not has_table_privilege('service_role', 'private.reconcile_runs', 'select')
  and not has_table_privilege('service_role', 'private.reconcile_runs', 'insert'),
  'no role but the owner may read or write private.reconcile_runs'
);

-- A signed-in user, as PostgREST runs a request: the view is refused.
set local role authenticated;
select set_config('request.jwt.claims',
  '{"sub":"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa","role":"authenticated"}', true);
select throws_ok(
  $$ select private.ops_overview(now()) $$,
  '42501', null,
  'an authenticated user cannot read the operator''s view'
);
select throws_ok(
  $$ select private.record_reconcile_run(now(), now(), 'succeeded', '{}'::jsonb, null) $$,
  '42501', null,
  'an authenticated user cannot forge a reconcile run'
);
reset role;

-- As the owner: the run log's shape.
select lives_ok(
  $$ select private.record_reconcile_run(
       p_started_at => now() - interval '1 minute', p_finished_at => now(),
       p_outcome => 'failed', p_result => null, p_error_code => 'livekit_unavailable') $$,
  'a failed run keeps its contract error code'
);
select throws_ok(
  $$ select private.record_reconcile_run(
       p_started_at => now(), p_finished_at => now(), p_outcome => 'failed', p_result => null,
       p_error_code => 'LiveKit said: invalid key APIxyz') $$,
  '23514', null,
  'a failed run cannot keep a message, only a code'
);
select throws_ok(
  $$ select private.record_reconcile_run(
       p_started_at => now(), p_finished_at => now(), p_outcome => 'succeeded', p_result => null,
       p_error_code => null) $$,
  '23514', null,
  'a succeeded run keeps its counts (no null result)'
);
select throws_ok(
  $$ select private.record_reconcile_run(
       p_started_at => now(), p_finished_at => now(), p_outcome => 'failed', p_result => null,
       p_error_code => null) $$,
  '23514', null,
  'a failed run keeps its error code (no null code)'
);
select is(
  (private.ops_overview(now()) -> 'reconcile' -> 'lastRun' ->> 'errorCode'),
  'livekit_unavailable',
  'the operator''s view reads the last run'
);

select * from finish();
rollback;
