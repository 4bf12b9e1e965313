-- Uploads are bounded and written once, object paths are plain, and every recording write is
-- made by a function (API.md, "Who may see a child"). After data_api_read_only.sql the Data API
-- roles write nothing; sign-upload-url creates its row through private.start_upload below, and
-- complete-upload, delete-recording and reconcile write as service_role after their own checks
-- (supabase/functions/*/handler.ts, shared/recording_retention.ts).

-- Object paths ---------------------------------------------------------------------------------

-- A path with a "." or ".." segment names one object to GCS and another to anything that
-- normalises it (an HTTP client, a proxy): recordings/A/S/../../../recordings/B/x would pass the
-- prefix check of recordings_object_path_scoped and point at streamer B's files. Egress reports
-- with such a path are ignored by readEgress in shared/egress.ts; rows that took one before are
-- detached from it here (their object, if any, is left to the bucket's lifecycle rule), so the
-- check can be validated.
update public.recordings
   set object_path = null
 where object_path ~ '(^|/)\.\.?(/|$)';

alter table public.recordings add constraint recordings_object_path_segments check (
  object_path is null or object_path !~ '(^|/)\.\.?(/|$)'
);

comment on constraint recordings_object_path_segments on public.recordings is
  'No "." or ".." path segment in object_path (isSafeObjectPath in shared/object_paths.ts checks the '
  'same before a path is signed, stored or used).';

-- The upload quota counts a streamer's uploads of the last 24 hours by creation time.
create index recordings_streamer_uploads_idx
  on public.recordings (streamer_id, created_at)
  include (expected_size_bytes)
  where source = 'upload';

-- sign-upload-url -------------------------------------------------------------------------------

-- The streamer's new upload: the session must be theirs, and the sizes they were given signed
-- upload URLs for in the 24 hours before p_now, this one included, must stay within
-- p_quota_bytes. Concurrent calls of one streamer take turns on a transaction-scoped advisory
-- lock, so two of them cannot both fit in the last free bytes. The object path is the caller's
-- (uploadObjectName in shared/recordings.ts); recordings_object_path_scoped and
-- recordings_object_path_segments hold it to the streamer's and session's prefix.
create function private.start_upload(
  p_streamer_id uuid,
  p_session_id uuid,
  p_recording_id uuid,
  p_object_path text,
  p_content_type text,
  p_size_bytes bigint,
  p_quota_bytes bigint,
  p_now timestamptz
)
returns table (outcome text, retry_after_seconds integer, recording jsonb)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_window constant interval := interval '24 hours';
  v_used bigint;
  v_retry integer;
  v_row public.recordings;
begin
  perform private.act_as_service();
  perform pg_advisory_xact_lock(hashtextextended('private.start_upload:' || p_streamer_id, 0));

  if not exists (select 1 from public.stream_sessions s
                  where s.id = p_session_id and s.streamer_id = p_streamer_id) then
    return query select 'not_found', 0, null::jsonb;
    return;
  end if;

  select coalesce(sum(r.expected_size_bytes), 0) into v_used
    from public.recordings r
   where r.streamer_id = p_streamer_id and r.source = 'upload'
     and r.created_at > p_now - v_window;

  if v_used + p_size_bytes > p_quota_bytes then
    -- The first moment enough of the window's uploads have left it for this one to fit; never,
    -- for a size over the whole quota, which is a full window away as far as a client can tell.
    select ceil(extract(epoch from (w.created_at + v_window - p_now)))::integer into v_retry
      from (select r.created_at,
                   sum(r.expected_size_bytes) over (order by r.created_at, r.id
                                                    rows unbounded preceding) as freed
              from public.recordings r
             where r.streamer_id = p_streamer_id and r.source = 'upload'
               and r.created_at > p_now - v_window) w
     where v_used - w.freed + p_size_bytes <= p_quota_bytes
     order by w.created_at
     limit 1;
    return query select 'quota_exceeded',
      greatest(1, coalesce(v_retry, extract(epoch from v_window)::integer)), null::jsonb;
    return;
  end if;

  insert into public.recordings
    (id, session_id, streamer_id, source, status, object_path, content_type,
     expected_size_bytes, created_at, updated_at)
  values (p_recording_id, p_session_id, p_streamer_id, 'upload', 'uploading', p_object_path,
          p_content_type, p_size_bytes, p_now, p_now)
  returning * into v_row;
  return query select 'created', 0, to_jsonb(v_row);
end
$$;

comment on function private.start_upload(uuid, uuid, uuid, text, text, bigint, bigint, timestamptz)
  is 'sign-upload-url''s write, as service_role: outcome not_found (no such session of '
  'p_streamer_id), quota_exceeded (with retry_after_seconds: when this size fits the rolling '
  '24-hour quota again) or created (the uploading recording). Owner only.';

revoke all on function private.start_upload(uuid, uuid, uuid, text, text, bigint, bigint,
  timestamptz) from public, anon, authenticated, service_role;
