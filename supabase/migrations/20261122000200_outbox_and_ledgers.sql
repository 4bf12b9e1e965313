-- Service-side tables: the email outbox, the LiveKit webhook ledger, idempotency keys and
-- rate-limit buckets, plus the one-statement rate limiter.

-- Notification outbox ----------------------------------------------------------------------

create table public.notification_outbox (
  id uuid not null default gen_random_uuid(),
  kind text not null,
  guardian_id uuid not null,
  streamer_id uuid not null,
  session_id uuid,
  recording_id uuid,
  object_id uuid not null,
  status text not null default 'queued',
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  locked_until timestamptz,
  provider_message_id text,
  last_error text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  sent_at timestamptz,
  constraint notification_outbox_pkey primary key (id),
  constraint notification_outbox_guardian_id_fkey foreign key (guardian_id)
    references public.guardians (id) on delete cascade,
  constraint notification_outbox_streamer_id_fkey foreign key (streamer_id)
    references auth.users (id) on delete cascade,
  constraint notification_outbox_session_id_fkey foreign key (session_id)
    references public.stream_sessions (id) on delete cascade,
  constraint notification_outbox_recording_id_fkey foreign key (recording_id)
    references public.recordings (id) on delete cascade,
  -- API.md: "Never two of the same": one email per kind, object and guardian.
  constraint notification_outbox_once unique (kind, object_id, guardian_id),
  constraint notification_outbox_kind_check
    check (kind in ('consent', 'stream_started', 'stream_ended', 'recording_ready')),
  constraint notification_outbox_status_check
    check (status in ('queued', 'sending', 'sent', 'failed', 'suppressed')),
  constraint notification_outbox_attempts_check check (attempts >= 0),
  constraint notification_outbox_sent_at check (status <> 'sent' or sent_at is not null),
  -- object_id names what the email is about, and agrees with the typed reference.
  constraint notification_outbox_object_check check (
    case kind
      when 'consent' then object_id = guardian_id
      when 'stream_started' then session_id is not null and object_id = session_id
      when 'stream_ended' then session_id is not null and object_id = session_id
      when 'recording_ready' then recording_id is not null and object_id = recording_id
    end
  )
);

comment on table public.notification_outbox is
  'Emails to guardians, written in the same transaction as the event that causes them and '
  'sent by send-notification. service_role only: no user may read or write it.';

comment on column public.notification_outbox.object_id is
  'The session (stream_started, stream_ended), recording (recording_ready) or guardian '
  '(consent) the email is about; part of the notification_outbox_once key.';

-- send-notification claims due rows: status in (queued, sending) and next_attempt_at <= now.
create index notification_outbox_due_idx
  on public.notification_outbox (status, next_attempt_at)
  where status in ('queued', 'sending');

create index notification_outbox_guardian_id_idx on public.notification_outbox (guardian_id);

create index notification_outbox_session_id_idx
  on public.notification_outbox (session_id)
  where session_id is not null;

create index notification_outbox_recording_id_idx
  on public.notification_outbox (recording_id)
  where recording_id is not null;

-- Webhook ledger ---------------------------------------------------------------------------

create table public.webhook_events (
  id text not null,
  event text not null,
  room_name text,
  outcome text not null default 'processing',
  received_at timestamptz not null default now(),
  processed_at timestamptz,
  duration_ms numeric,
  payload jsonb not null,
  error text,
  constraint webhook_events_pkey primary key (id),
  constraint webhook_events_id_length check (char_length(id) between 1 and 256),
  constraint webhook_events_outcome_check
    check (outcome in ('processing', 'processed', 'failed')),
  constraint webhook_events_duration_check check (duration_ms is null or duration_ms >= 0)
);

comment on table public.webhook_events is
  'Ledger of LiveKit webhook events by event id, written in the same transaction as their '
  'effects so a redelivered event is recognised. service_role only.';

create index webhook_events_received_at_idx on public.webhook_events (received_at);

create index webhook_events_room_name_idx
  on public.webhook_events (room_name)
  where room_name is not null;

-- Idempotency keys -------------------------------------------------------------------------

create table public.idempotency_keys (
  user_id uuid not null,
  operation text not null,
  key text not null,
  request_hash text not null,
  status_code integer,
  response jsonb,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  constraint idempotency_keys_pkey primary key (user_id, operation, key),
  constraint idempotency_keys_user_id_fkey foreign key (user_id)
    references auth.users (id) on delete cascade,
  constraint idempotency_keys_key_length check (char_length(key) between 8 and 128),
  constraint idempotency_keys_operation_length check (char_length(operation) between 1 and 64),
  constraint idempotency_keys_status_code_check
    check (status_code is null or status_code between 100 and 599)
);

comment on table public.idempotency_keys is
  'Idempotency-Key replays (start-session): the first response for a key is stored and '
  'replayed. Each user reads, inserts and updates only their own keys; expired rows are '
  'removed by service_role.';

create index idempotency_keys_expires_at_idx on public.idempotency_keys (expires_at);

-- Rate limiting ----------------------------------------------------------------------------

create table public.rate_limit_buckets (
  key text not null,
  window_start timestamptz not null,
  hits integer not null,
  constraint rate_limit_buckets_pkey primary key (key),
  constraint rate_limit_buckets_hits_check check (hits >= 0)
);

comment on table public.rate_limit_buckets is
  'Fixed-window rate-limit counters, one row per key; changed only through '
  'private.rate_limit_hit(). service_role only.';

create function private.rate_limit_hit(
  p_key text,
  p_limit integer,
  p_window_seconds integer,
  p_now timestamptz default now()
)
returns table (allowed boolean, retry_after_seconds integer)
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  if p_key is null or p_limit is null or p_limit < 1
    or p_window_seconds is null or p_window_seconds < 1 or p_now is null then
    raise exception 'Cannot count a hit for key %: the limit (%) and window (% s) must be at least 1',
      p_key, p_limit, p_window_seconds
      using errcode = 'invalid_parameter_value';
  end if;
  -- One statement: concurrent hits on a key serialise on its row, and none is lost.
  return query
    insert into public.rate_limit_buckets as b (key, window_start, hits)
    values (p_key, p_now, 1)
    on conflict (key) do update
      set window_start = case
          when b.window_start + make_interval(secs => p_window_seconds) <= p_now then p_now
          else b.window_start
        end,
        hits = case
          when b.window_start + make_interval(secs => p_window_seconds) <= p_now then 1
          else b.hits + 1
        end
    returning
      b.hits <= p_limit,
      case
        when b.hits <= p_limit then 0
        else greatest(
          1,
          ceil(extract(epoch from (b.window_start + make_interval(secs => p_window_seconds) - p_now)))
        )::integer
      end;
end
$$;

comment on function private.rate_limit_hit(text, integer, integer, timestamptz) is
  'Counts one hit on a fixed window of p_window_seconds for p_key: allowed while the window '
  'has at most p_limit hits, otherwise retry_after_seconds (>= 1) until the window ends. '
  'service_role only.';
