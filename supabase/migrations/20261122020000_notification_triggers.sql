-- Emails are queued by triggers on the state changes that cause them, so every path that
-- makes a change (a function, the LiveKit webhook, reconciliation) queues them in the same
-- transaction, and notification_outbox_once keeps any of them from being queued twice.
-- Whether a guardian still wants (or may get) an email is checked again when it is sent.

create function private.queue_guardian_notifications(
  p_kind text,
  p_streamer_id uuid,
  p_session_id uuid,
  p_recording_id uuid,
  p_at timestamptz
) returns void
language sql
security definer
set search_path = ''
as $$
  insert into public.notification_outbox
    (kind, guardian_id, streamer_id, session_id, recording_id, object_id,
     next_attempt_at, created_at, updated_at)
  select p_kind, g.id, g.streamer_id, p_session_id, p_recording_id,
         coalesce(p_recording_id, p_session_id), p_at, p_at, p_at
    from public.guardians g
   where g.streamer_id = p_streamer_id
     and g.status = 'active'
     and case p_kind
           when 'stream_started' then g.notify_stream_started
           when 'stream_ended' then g.notify_stream_ended
           when 'recording_ready' then g.notify_recording_ready
         end
  on conflict on constraint notification_outbox_once do nothing
$$;

comment on function private.queue_guardian_notifications(text, uuid, uuid, uuid, timestamptz) is
  'Queues one email of a kind per active guardian of the streamer who wants that kind; '
  'a repeat is a no-op (notification_outbox_once). Called by triggers only.';

revoke all on function private.queue_guardian_notifications(text, uuid, uuid, uuid, timestamptz)
  from public;

create function private.stream_sessions_queue_notifications() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if new.status = 'live' and old.status = 'starting' then
    perform private.queue_guardian_notifications(
      'stream_started', new.streamer_id, new.id, null, new.updated_at);
  elsif new.status = 'ended' and old.status <> 'ended' and new.started_at is not null then
    -- A session that never went live announced nothing, so it has nothing to close.
    perform private.queue_guardian_notifications(
      'stream_ended', new.streamer_id, new.id, null, new.updated_at);
  end if;
  return null;
end
$$;

comment on function private.stream_sessions_queue_notifications() is
  'Trigger: going live queues "stream started"; ending after having been live queues '
  '"stream ended".';

revoke all on function private.stream_sessions_queue_notifications() from public;

create trigger stream_sessions_queue_notifications
  after update of status on public.stream_sessions
  for each row when (new.status is distinct from old.status)
  execute function private.stream_sessions_queue_notifications();

create function private.recordings_queue_notifications() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform private.queue_guardian_notifications(
    'recording_ready', new.streamer_id, new.session_id, new.id, new.updated_at);
  return null;
end
$$;

comment on function private.recordings_queue_notifications() is
  'Trigger: a recording that becomes ready queues "recording ready".';

revoke all on function private.recordings_queue_notifications() from public;

create trigger recordings_queue_notifications_on_insert
  after insert on public.recordings
  for each row when (new.status = 'ready')
  execute function private.recordings_queue_notifications();

create trigger recordings_queue_notifications_on_update
  after update of status on public.recordings
  for each row when (new.status = 'ready' and old.status <> 'ready')
  execute function private.recordings_queue_notifications();

create function private.guardians_queue_consent() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into public.notification_outbox
    (kind, guardian_id, streamer_id, object_id, next_attempt_at, created_at, updated_at)
  values ('consent', new.id, new.streamer_id, new.id, new.created_at, new.created_at,
          new.created_at)
  on conflict on constraint notification_outbox_once do nothing;
  return null;
end
$$;

comment on function private.guardians_queue_consent() is
  'Trigger: a new pending guardian is asked for consent (double opt-in) by email.';

revoke all on function private.guardians_queue_consent() from public;

create trigger guardians_queue_consent
  after insert on public.guardians
  for each row when (new.status = 'pending')
  execute function private.guardians_queue_consent();
