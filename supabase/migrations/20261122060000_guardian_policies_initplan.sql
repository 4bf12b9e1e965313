-- The guardian policies asked private.is_active_guardian(streamer_id) once per row, so listing
-- the live sessions a user may see cost one lookup per live session of every streamer. They
-- now compare with the caller's guarded streamers, computed once per statement (an initPlan),
-- which the planner can also use with the streamer indexes. Who may see what is unchanged.

create function private.guarded_streamer_ids() returns uuid[]
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(array_agg(g.streamer_id), '{}')
    from public.guardians g
   where g.user_id = auth.uid() and g.status = 'active'
$$;

comment on function private.guarded_streamer_ids() is
  'The streamers who made the signed-in user an active guardian. Security definer: guardian '
  'rows of other users stay hidden; used by the guardian read policies.';

revoke all on function private.guarded_streamer_ids() from public;
grant execute on function private.guarded_streamer_ids() to authenticated, service_role;

alter policy stream_sessions_select_guarded on public.stream_sessions
  using (streamer_id = any ((select private.guarded_streamer_ids())::uuid[]));

alter policy session_participants_select_guarded on public.session_participants
  using (
    exists (
      select 1 from public.stream_sessions s
       where s.id = session_id
         and s.streamer_id = any ((select private.guarded_streamer_ids())::uuid[])
    )
  );

alter policy recordings_select_guarded on public.recordings
  using (streamer_id = any ((select private.guarded_streamer_ids())::uuid[]));

alter policy recordings_update_guarded_delete on public.recordings
  using (streamer_id = any ((select private.guarded_streamer_ids())::uuid[]))
  with check (status = 'deleted' and streamer_id = any ((select private.guarded_streamer_ids())::uuid[]));
