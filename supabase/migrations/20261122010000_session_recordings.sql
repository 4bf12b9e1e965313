-- A session created with recording on gets its pending egress recording in the same
-- transaction: LiveKit's participant auto egress starts when the streamer publishes, and the
-- webhook later fills in the egress id. Security definer because streamers may not insert
-- egress recordings themselves.

create function private.stream_sessions_create_pending_recording() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into public.recordings (session_id, streamer_id, source, status, content_type, created_at, updated_at)
  values (new.id, new.streamer_id, 'egress', 'pending', 'video/mp4', new.created_at, new.created_at);
  return null;
end
$$;

comment on function private.stream_sessions_create_pending_recording() is
  'Trigger: a new recorded session gets a pending egress recording in the same transaction.';

revoke all on function private.stream_sessions_create_pending_recording() from public;

create trigger stream_sessions_create_pending_recording
  after insert on public.stream_sessions
  for each row when (new.record)
  execute function private.stream_sessions_create_pending_recording();
