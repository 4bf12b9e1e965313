-- The operator's view (the service-only `ops` function): one statement that reads the outbox,
-- the webhook ledger, sessions, recordings and the runs of reconcile, and returns one JSON
-- document (private.ops_overview). reconcile records each run's end in private.reconcile_runs
-- (private.record_reconcile_run). docs/slos.md explains each figure and its alert threshold.

-- Runs of reconcile ----------------------------------------------------------------------------

create table private.reconcile_runs (
  id bigint generated always as identity,
  started_at timestamptz not null,
  finished_at timestamptz not null,
  outcome text not null,
  result jsonb,
  error_code text,
  constraint reconcile_runs_pkey primary key (id),
  constraint reconcile_runs_outcome_check check (outcome in ('succeeded', 'failed')),
  constraint reconcile_runs_finished_after_started check (finished_at >= started_at),
  -- A success keeps its counts; a failure keeps only the contract's error code (no message:
  -- messages can carry what a dependency said, and this table is read by people).
  constraint reconcile_runs_result_check check (
    (outcome = 'succeeded' and jsonb_typeof(result) = 'object' and error_code is null)
    or (outcome = 'failed' and result is null and error_code ~ '^[a-z][a-z_]{0,63}$')
  )
);

comment on table private.reconcile_runs is
  'One row per reconcile run: when it ran, whether it succeeded, its counts or its error code. '
  'Written by private.record_reconcile_run, read by private.ops_overview; owner only, kept 30 '
  'days.';

create index reconcile_runs_finished_at_idx on private.reconcile_runs (finished_at desc);

revoke all on table private.reconcile_runs from public, anon, authenticated, service_role;

create function private.record_reconcile_run(
  p_started_at timestamptz,
  p_finished_at timestamptz,
  p_outcome text,
  p_result jsonb,
  p_error_code text
)
returns void
language plpgsql
volatile
set search_path = ''
as $$
begin
  insert into private.reconcile_runs (started_at, finished_at, outcome, result, error_code)
  values (p_started_at, p_finished_at, p_outcome, p_result, p_error_code);
  delete from private.reconcile_runs where finished_at < p_finished_at - interval '30 days';
end
$$;

comment on function private.record_reconcile_run(timestamptz, timestamptz, text, jsonb, text) is
  'reconcile''s last statement of a run (handler.ts in supabase/functions/reconcile): records '
  'its outcome and drops runs older than 30 days. Owner only.';

revoke all on function private.record_reconcile_run(timestamptz, timestamptz, text, jsonb, text)
  from public, anon, authenticated, service_role;

-- Indexes for the figures over growing tables ---------------------------------------------------

-- Emails sent in the last hour and the stream-started latency: the outbox keeps sent rows.
create index notification_outbox_sent_at_idx
  on public.notification_outbox (sent_at)
  where status = 'sent';

create index notification_outbox_failed_idx
  on public.notification_outbox (updated_at)
  where status = 'failed';

create index recordings_failed_idx
  on public.recordings (updated_at)
  where status = 'failed';

-- Sessions ended in the last day, by reason.
create index stream_sessions_ended_at_idx
  on public.stream_sessions (ended_at)
  where status = 'ended';

-- The operator's view --------------------------------------------------------------------------

-- What "stuck" means here, against the product's promises (API.md, docs/slos.md):
-- * an email is stuck when it has been due, and not leased by a drain, for 5 minutes (the
--   drain runs every minute);
-- * an egress recording is stuck when its session ended 10 minutes ago and it is still
--   pending, recording or processing (recording ready within 10 minutes of the end), or when
--   it is still pending 5 minutes after its session went live (egress never started);
-- * an upload is stuck when it is still uploading 2 hours after its URL was signed (the URL
--   lives 15 minutes; reconcile removes it after 24 hours).
-- * a session is overdue when it is still starting 20 minutes after it was created (reconcile,
--   every 5 minutes, abandons it at 10).
create function private.ops_overview(p_now timestamptz)
returns jsonb
language sql
stable
set search_path = ''
as $$
  with
  outbox as (
    select
      count(*) filter (where o.status in ('queued', 'sending')) as pending,
      count(*) filter (where o.status in ('queued', 'sending') and o.next_attempt_at <= p_now)
        as due,
      count(*) filter (where o.status in ('queued', 'sending') and o.attempts > 0) as retrying,
      min(o.created_at) filter (where o.status in ('queued', 'sending')) as oldest_pending,
      count(*) filter (
        where o.status in ('queued', 'sending')
          and greatest(o.next_attempt_at, coalesce(o.locked_until, o.next_attempt_at))
            <= p_now - interval '5 minutes'
      ) as stuck,
      min(greatest(o.next_attempt_at, coalesce(o.locked_until, o.next_attempt_at))) filter (
        where o.status in ('queued', 'sending')
          and greatest(o.next_attempt_at, coalesce(o.locked_until, o.next_attempt_at))
            <= p_now - interval '5 minutes'
      ) as oldest_stuck
      from public.notification_outbox o
     where o.status in ('queued', 'sending')
  ),
  outbox_failed as (
    select count(*) as last_day
      from public.notification_outbox o
     where o.status = 'failed' and o.updated_at > p_now - interval '24 hours'
  ),
  outbox_sent as (
    select count(*) as last_hour
      from public.notification_outbox o
     where o.status = 'sent' and o.sent_at > p_now - interval '1 hour'
  ),
  -- SLI: the stream-started email within 60 s of the session going live, over the last day.
  -- Emails still unsent count too, as late as they are now.
  stream_started as (
    select count(*) as emails,
           count(*) filter (where d.seconds > 60) as over_60s,
           percentile_cont(0.95) within group (order by d.seconds) as p95
      from (
        select extract(epoch from (coalesce(o.sent_at, p_now) - s.started_at)) as seconds
          from public.notification_outbox o
          join public.stream_sessions s on s.id = o.session_id
         where o.kind = 'stream_started'
           and s.started_at > p_now - interval '24 hours'
           and (o.status = 'sent' or o.status in ('queued', 'sending'))
      ) d
  ),
  webhooks as (
    select count(*) as received_last_hour,
           count(*) filter (where w.outcome = 'failed') as failed_last_hour
      from public.webhook_events w
     where w.received_at > p_now - interval '1 hour'
  ),
  webhook_last as (
    select max(w.received_at) as last_received_at from public.webhook_events w
  ),
  sessions as (
    select
      count(*) filter (where s.status = 'live') as live,
      count(*) filter (where s.status = 'starting') as starting,
      count(*) filter (where s.status = 'starting' and s.created_at <= p_now - interval '20 minutes')
        as starting_overdue,
      min(s.started_at) filter (where s.status = 'live') as oldest_live
      from public.stream_sessions s
     where s.status in ('starting', 'live')
  ),
  sessions_ended as (
    select count(*) as last_day,
           count(*) filter (where s.end_reason = 'abandoned') as abandoned_last_day,
           count(*) filter (where s.end_reason = 'failed') as failed_last_day
      from public.stream_sessions s
     where s.status = 'ended' and s.ended_at > p_now - interval '24 hours'
  ),
  unsettled as (
    select r.status, r.created_at,
           case
             when r.status = 'uploading' then r.created_at <= p_now - interval '2 hours'
             when s.status = 'ended' then s.ended_at <= p_now - interval '10 minutes'
             when r.status = 'pending' and s.status = 'live'
               then s.started_at <= p_now - interval '5 minutes'
             else false
           end as stuck
      from public.recordings r
      join public.stream_sessions s on s.id = r.session_id
     where r.status in ('pending', 'recording', 'processing', 'uploading')
  ),
  recordings_stuck as (
    select jsonb_object_agg(st.status, jsonb_build_object(
             'count', coalesce(u.total, 0),
             'stuck', coalesce(u.stuck, 0),
             'oldestStuckSeconds', u.oldest_stuck_seconds)) as by_status
      from (values ('pending'), ('recording'), ('processing'), ('uploading')) as st (status)
      left join (
        select un.status, count(*) as total, count(*) filter (where un.stuck) as stuck,
               floor(extract(epoch from (p_now - min(un.created_at) filter (where un.stuck))))
                 as oldest_stuck_seconds
          from unsettled un
         group by un.status
      ) u on u.status = st.status
  ),
  recordings_recent as (
    select count(*) as failed_last_day
      from public.recordings r
     where r.status = 'failed' and r.updated_at > p_now - interval '24 hours'
  ),
  -- SLI: an egress recording ready within 10 minutes of its session's end, over the last day.
  recording_ready as (
    select count(*) as recordings,
           count(*) filter (where d.seconds > 600) as over_10m,
           percentile_cont(0.95) within group (order by d.seconds) as p95
      from (
        select extract(epoch from (r.ready_at - s.ended_at)) as seconds
          from public.recordings r
          join public.stream_sessions s on s.id = r.session_id
         where r.status = 'ready' and r.source = 'egress'
           and r.ready_at > p_now - interval '24 hours' and s.ended_at is not null
      ) d
  ),
  last_run as (
    select rr.* from private.reconcile_runs rr order by rr.finished_at desc, rr.id desc limit 1
  ),
  last_success as (
    select max(rr.finished_at) as finished_at
      from private.reconcile_runs rr
     where rr.outcome = 'succeeded'
  ),
  runs_last_hour as (
    select count(*) filter (where rr.outcome = 'failed') as failed
      from private.reconcile_runs rr
     where rr.finished_at > p_now - interval '1 hour'
  )
  select jsonb_build_object(
    'generatedAt', to_char(p_now at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'outbox', (
      select jsonb_build_object(
        'pending', o.pending,
        'due', o.due,
        'retrying', o.retrying,
        'oldestPendingSeconds', floor(extract(epoch from (p_now - o.oldest_pending))),
        'stuck', o.stuck,
        'oldestStuckSeconds', floor(extract(epoch from (p_now - o.oldest_stuck))),
        'failedLastDay', f.last_day,
        'sentLastHour', se.last_hour,
        'streamStarted', jsonb_build_object(
          'emailsLastDay', ss.emails,
          'over60sLastDay', ss.over_60s,
          'p95Seconds', round(ss.p95::numeric, 1)))
        from outbox o, outbox_failed f, outbox_sent se, stream_started ss),
    'webhooks', (
      select jsonb_build_object(
        'receivedLastHour', w.received_last_hour,
        'failedLastHour', w.failed_last_hour,
        'lastReceivedAt',
          to_char(l.last_received_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'secondsSinceLastEvent', floor(extract(epoch from (p_now - l.last_received_at))))
        from webhooks w, webhook_last l),
    'sessions', (
      select jsonb_build_object(
        'live', s.live,
        'starting', s.starting,
        'startingOverdue', s.starting_overdue,
        'oldestLiveSeconds', floor(extract(epoch from (p_now - s.oldest_live))),
        'endedLastDay', e.last_day,
        'abandonedLastDay', e.abandoned_last_day,
        'failedLastDay', e.failed_last_day)
        from sessions s, sessions_ended e),
    'recordings', (
      select rs.by_status || jsonb_build_object(
        'failedLastDay', rr.failed_last_day,
        'ready', jsonb_build_object(
          'egressLastDay', ry.recordings,
          'over10mLastDay', ry.over_10m,
          'p95Seconds', round(ry.p95::numeric, 1)))
        from recordings_stuck rs, recordings_recent rr, recording_ready ry),
    'reconcile', (
      select jsonb_build_object(
        'lastRun', (
          select jsonb_build_object(
            'startedAt', to_char(l.started_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
            'finishedAt', to_char(l.finished_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
            'outcome', l.outcome,
            'result', l.result,
            'errorCode', l.error_code)
            from last_run l),
        'secondsSinceLastRun',
          (select floor(extract(epoch from (p_now - l.finished_at))) from last_run l),
        'secondsSinceLastSuccess', floor(extract(epoch from (p_now - ls.finished_at))),
        'failedLastHour', h.failed)
        from last_success ls, runs_last_hour h)
  )
$$;

comment on function private.ops_overview(timestamptz) is
  'The operator''s view at p_now as one JSON document: outbox depth, age and stuck emails, '
  'webhook events failed in the last hour, live and abandoned sessions, recordings stuck in '
  'pending, recording, processing or uploading, the SLIs of docs/slos.md, and the last '
  'reconcile run. Read by the ops function; owner only.';

revoke all on function private.ops_overview(timestamptz)
  from public, anon, authenticated, service_role;
