-- private.reconcile_runs (20261206050000_operations_view.sql): its result check let a succeeded
-- run without a result through, because jsonb_typeof(null) is null and a check that is null
-- passes. The same rule, now false rather than null for a missing result.
alter table private.reconcile_runs
  drop constraint reconcile_runs_result_check,
  add constraint reconcile_runs_result_check check (
    (outcome = 'succeeded' and coalesce(jsonb_typeof(result) = 'object', false)
      and error_code is null)
    or (outcome = 'failed' and result is null and coalesce(error_code ~ '^[a-z][a-z_]{0,63}$', false))
  );
