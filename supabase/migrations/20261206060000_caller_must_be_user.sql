-- A validly signed token whose sub is no user (deleted, or never was) is 401 unauthorized
-- (API.md, "Who may see a child"). Writes already fail on their foreign keys to auth.users;
-- reads under RLS would answer such a caller with an empty list or a 404 instead. So every
-- read for a user checks the caller first: shared/kernel/db.ts's asUser calls private.require_user
-- before it takes the user's role, and so does private.user_active_sessions (the streams list).
-- The error names the constraint caller_is_user, which shared/kernel/pg_errors.ts maps to 401.

create function private.require_user(p_user_id uuid)
returns void
language plpgsql
-- volatile, so that the planner never drops it from asUser's subquery as an unused column
volatile
set search_path = ''
as $$
begin
  if not exists (select 1 from auth.users u where u.id = p_user_id) then
    raise exception 'The caller % is not a user', p_user_id
      using errcode = 'foreign_key_violation',
        constraint = 'caller_is_user';
  end if;
end
$$;

comment on function private.require_user(uuid) is
  'Raises foreign_key_violation on constraint caller_is_user when no auth.users row has this '
  'id. Called by the owner before it takes a user''s role; granted to no one.';

create or replace function private.user_active_sessions(p_claims text, p_limit integer)
returns setof private.session_listings
language plpgsql
volatile
set search_path = ''
as $$
begin
  perform private.require_user((p_claims::jsonb ->> 'sub')::uuid);
  perform private.act_as_user(p_claims);
  return query
    select * from private.active_sessions_for((p_claims::jsonb ->> 'sub')::uuid, p_limit);
end
$$;

revoke all on function private.require_user(uuid) from public;
