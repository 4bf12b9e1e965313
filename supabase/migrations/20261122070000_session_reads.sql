-- The session reads of the hot paths (streams, livekit-token, end-session, start-session's
-- replay) as plpgsql functions. Functions reach Postgres through the transaction pooler with
-- prepare: false, so every plain query was parsed, rewritten with the RLS policies and
-- planned anew, which cost more than running it. plpgsql keeps the plans of its statements
-- for the connection. The functions are security invoker and read through a security invoker
-- view: RLS decides exactly as it did for the plain queries.

create view private.session_listings with (security_invoker = true) as
  select s.id, s.streamer_id, s.title, s.status, s.end_reason, s.room_name, s.record,
         s.created_at, s.started_at, s.ended_at, s.duration_seconds,
         s.viewers_current, s.viewers_peak, s.viewers_total,
         (select r.status from public.recordings r
           where r.session_id = s.id and r.source = 'egress'
           order by r.created_at desc limit 1) as recording_status
    from public.stream_sessions s;

comment on view private.session_listings is
  'Sessions as the API shows them, with the status of their latest egress recording. '
  'Security invoker: the caller''s RLS applies.';

create function private.session_by_id(p_session_id uuid)
returns setof private.session_listings
language plpgsql
stable
set search_path = ''
as $$
begin
  return query select * from private.session_listings l where l.id = p_session_id;
end
$$;

comment on function private.session_by_id(uuid) is
  'The session p_session_id if the caller may see it.';

create function private.active_session_of(p_streamer_id uuid)
returns setof private.session_listings
language plpgsql
stable
set search_path = ''
as $$
begin
  return query
    select * from private.session_listings l
     where l.streamer_id = p_streamer_id and l.status in ('starting', 'live');
end
$$;

comment on function private.active_session_of(uuid) is
  'The streamer''s session that is starting or live, if the caller may see it.';

create function private.active_sessions_for(p_user_id uuid, p_limit integer)
returns setof private.session_listings
language plpgsql
stable
set search_path = ''
as $$
begin
  -- RLS decides as well; the explicit filter lets the planner use the streamer index
  -- instead of checking every active session against the policy.
  return query
    select * from private.session_listings l
     where l.status in ('starting', 'live')
       and (l.streamer_id = p_user_id
            or l.streamer_id in (select g.streamer_id from public.guardians g
                                  where g.user_id = p_user_id and g.status = 'active'))
     order by l.created_at desc
     limit p_limit;
end
$$;

comment on function private.active_sessions_for(uuid, integer) is
  'Starting and live sessions of p_user_id and of the streamers who made them an active '
  'guardian, newest first, as far as the caller may see them.';

revoke all on private.session_listings from public;
grant select on private.session_listings to authenticated, service_role;
revoke all on function private.session_by_id(uuid) from public;
revoke all on function private.active_session_of(uuid) from public;
revoke all on function private.active_sessions_for(uuid, integer) from public;
grant execute on function private.session_by_id(uuid) to authenticated, service_role;
grant execute on function private.active_session_of(uuid) to authenticated, service_role;
grant execute on function private.active_sessions_for(uuid, integer) to authenticated, service_role;
