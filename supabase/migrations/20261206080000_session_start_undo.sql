-- start-session without a transaction open across LiveKit (supabase/functions/start-session/
-- handler.ts): private.user_start_session commits the session as `starting` (with its pending
-- recording and its idempotency key) on its own, the function then calls LiveKit's CreateRoom,
-- and when that fails it takes the start back with private.undo_session_start, a second
-- statement. So "no session is left behind" holds without holding row locks while LiveKit
-- answers, and "one live or starting session per streamer" still holds under concurrency: the
-- committed `starting` row is what a concurrent start finds (409 session_already_live), and the
-- unique index stream_sessions_one_active_per_streamer refuses any start that races past it.
--
-- A crash between the two steps leaves a `starting` session without a room. Its idempotency key
-- still replays it, and start-session calls CreateRoom (idempotent in LiveKit) again for a
-- replayed `starting` session; without a key, reconcile ends it as `abandoned` once LiveKit's
-- ListRooms has not shown its room for a minute.

create function private.undo_session_start(
  p_session_id uuid,
  p_streamer_id uuid
)
returns boolean
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_deleted integer;
begin
  perform private.act_as_service();
  -- Only a start that nothing has happened to yet: a session a webhook moved on (someone joined
  -- a room LiveKit created after all) is real and stays. The pending recording and the
  -- idempotency key go with it (on delete cascade), so the key is free again.
  delete from public.stream_sessions s
   where s.id = p_session_id and s.streamer_id = p_streamer_id
     and s.status = 'starting' and s.started_at is null;
  get diagnostics v_deleted = row_count;
  return v_deleted > 0;
end
$$;

comment on function private.undo_session_start(uuid, uuid) is
  'Takes back a start-session whose LiveKit room could not be created: deletes the session of '
  'p_streamer_id when it is still starting (its pending recording and idempotency key go with '
  'it). True when it deleted it. Writes as service_role. Owner only.';

revoke all on function private.undo_session_start(uuid, uuid)
  from public, anon, authenticated, service_role;
