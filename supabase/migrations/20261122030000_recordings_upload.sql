-- Recordings a streamer uploads through a signed URL live under
-- uploads/{streamerId}/{sessionId}/{recordingId}.{ext}, apart from what LiveKit egress writes
-- under recordings/{streamerId}/{sessionId}/. The server chooses the name; the constraint keeps
-- any row from pointing outside its own streamer's and session's prefix.

alter table public.recordings drop constraint recordings_object_path_scoped;

alter table public.recordings add constraint recordings_object_path_scoped check (
  object_path is null
  or starts_with(object_path, 'recordings/' || streamer_id::text || '/' || session_id::text || '/')
  or (
    source = 'upload'
    and starts_with(object_path, 'uploads/' || streamer_id::text || '/' || session_id::text || '/')
  )
);

comment on constraint recordings_object_path_scoped on public.recordings is
  'Objects live under recordings/{streamerId}/{sessionId}/ (egress, and uploads from before '
  'uploads/ existed) or, for uploads, uploads/{streamerId}/{sessionId}/.';

-- Retention (shared/recording_retention.ts): uploads never completed within a day become
-- failed, and failed recordings older than the retention period are deleted. Ready ones are
-- found through recordings_ready_at_idx.
create index recordings_uploading_created_at_idx
  on public.recordings (created_at)
  where status = 'uploading';

create index recordings_failed_created_at_idx
  on public.recordings (created_at)
  where status = 'failed';
