-- The parent is the gatekeeper (API.md, "Who may see a child"). Guardians get a role: the
-- primary guardian is registered by the service (the main app's parent mapping); everyone the
-- streamer invites waits in awaiting_approval until the active primary guardian approves, then
-- gives their own consent. Accounts are bound to guardian rows only by proof (a signed-in account
-- presenting that guardian's consent or watch link), never by a matching email. Email is not a
-- relay: approval emails reach only the primary guardian, consent emails are capped per address,
-- and an address that unsubscribed from everything is asked for consent again only after it opts
-- in through a preferences link.
--
-- Every write here is made by owner-only functions in schema private (no execute grant to
-- anyone: the edge functions connect as their owner), which check who may do what themselves.
-- They are listed, with their callers, in shared/guardians.ts.

-- Roles and the approval state ----------------------------------------------------------------

alter table public.guardians
  add column role text not null default 'viewer',
  add constraint guardians_role_check check (role in ('primary', 'viewer'));

comment on column public.guardians.role is
  'primary: the parent the service registered (the main app''s parent mapping), who approves '
  'every invitation and may list and revoke guardians; viewer: everyone else.';

alter table public.guardians drop constraint guardians_status_check;

alter table public.guardians add constraint guardians_status_check
  check (status in ('awaiting_approval', 'pending', 'active', 'revoked'));

-- One primary guardian at a time: a new registration revokes the old one first.
create unique index guardians_one_primary_per_streamer
  on public.guardians (streamer_id)
  where role = 'primary' and status <> 'revoked';

-- An account is bound to at most one live row of a streamer, so it watches as one guardian.
create unique index guardians_one_row_per_account
  on public.guardians (streamer_id, user_id)
  where user_id is not null and status <> 'revoked';

create index guardians_streamer_role_idx
  on public.guardians (streamer_id, role)
  where status = 'active';

create or replace function private.guardians_enforce_monotonic() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if old.role <> new.role then
    raise exception 'Cannot change the role of guardian % from % to %', old.id, old.role, new.role
      using errcode = 'check_violation',
        constraint = 'guardians_monotonic',
        table = 'guardians',
        schema = 'public';
  end if;
  if old.status = 'revoked' and new.status <> 'revoked' then
    raise exception 'Cannot change guardian % to %: it was revoked at %, and revocation is final',
      old.id, new.status, old.revoked_at
      using errcode = 'check_violation',
        constraint = 'guardians_monotonic',
        table = 'guardians',
        schema = 'public';
  end if;
  if (old.status = 'active' and new.status in ('pending', 'awaiting_approval'))
    or (old.status = 'pending' and new.status = 'awaiting_approval') then
    raise exception 'Cannot move guardian % back from % to %', old.id, old.status, new.status
      using errcode = 'check_violation',
        constraint = 'guardians_monotonic',
        table = 'guardians',
        schema = 'public';
  end if;
  if old.status = 'awaiting_approval' and new.status = 'active' then
    raise exception 'Cannot activate guardian %: it awaits the primary guardian''s approval', old.id
      using errcode = 'check_violation',
        constraint = 'guardians_monotonic',
        table = 'guardians',
        schema = 'public';
  end if;
  return new;
end
$$;

comment on function private.guardians_enforce_monotonic() is
  'Trigger: awaiting_approval -> pending -> active, any of them -> revoked, never backwards; '
  'revoked is final, and a role never changes.';

drop trigger guardians_monotonic on public.guardians;

create trigger guardians_monotonic
  before update of status, role on public.guardians
  for each row execute function private.guardians_enforce_monotonic();

create or replace function private.guardians_enforce_limit() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_count integer;
begin
  if new.status not in ('awaiting_approval', 'pending', 'active') then
    return new;
  end if;
  if tg_op = 'UPDATE' and old.status in ('awaiting_approval', 'pending', 'active') then
    return new;
  end if;
  -- Serialise concurrent inserts for the same streamer: the second waits for the first to
  -- commit, and its count (a new snapshot under read committed) then includes that row.
  perform pg_catalog.pg_advisory_xact_lock(
    pg_catalog.hashtextextended('public.guardians:' || new.streamer_id::text, 0)
  );
  select count(*) into v_count
  from public.guardians g
  where g.streamer_id = new.streamer_id
    and g.status in ('awaiting_approval', 'pending', 'active')
    and g.id <> new.id;
  if v_count >= 10 then
    raise exception 'Cannot add guardian: streamer % already has % guardians awaiting approval, pending or active (the limit is 10)',
      new.streamer_id, v_count
      using errcode = 'check_violation',
        constraint = 'guardians_limit',
        table = 'guardians',
        schema = 'public';
  end if;
  return new;
end
$$;

comment on function private.guardians_enforce_limit() is
  'Trigger: at most 10 guardians awaiting approval, pending or active per streamer (API.md 409 '
  'guardian_limit); security definer so the count sees every row whatever the caller''s policies.';

-- Rights follow proof, never a matching email ------------------------------------------------

drop trigger guardians_link_account on public.guardians;
drop function private.guardians_link_account();
drop trigger users_link_guardians on auth.users;
drop function private.users_link_guardians();

-- Bindings made so far came from matching emails, which prove nothing: an account that signed
-- up with a parent's address was given the parent's rights. They are undone; each guardian binds
-- again by opening a watch link (or its consent link) while signed in.
update public.guardians set user_id = null where user_id is not null;

comment on column public.guardians.user_id is
  'The account bound to this guardian: set only when that account, signed in, presented this '
  'guardian''s consent or watch link (private.guardian_bind_account). Never from an email.';

-- An address's own choices --------------------------------------------------------------------

create table public.guardian_address_choices (
  email text not null,
  notify_stream_started boolean not null,
  notify_stream_ended boolean not null,
  notify_recording_ready boolean not null,
  unsubscribed_at timestamptz,
  updated_at timestamptz not null,
  constraint guardian_address_choices_pkey primary key (email),
  constraint guardian_address_choices_email_normalised check (email = lower(btrim(email))),
  constraint guardian_address_choices_unsubscribed
    check (unsubscribed_at is null
      or not (notify_stream_started or notify_stream_ended or notify_recording_ready))
);

comment on table public.guardian_address_choices is
  'The email choices an address made itself through a preferences link, whoever invited it: a '
  'new guardian row of the address starts with them, and while unsubscribed_at is set (every '
  'kind turned off) the address gets no consent email. Written only by '
  'private.guardian_set_preferences; service_role reads it; no user may read or write it.';

alter table public.guardian_address_choices enable row level security;

revoke all on table public.guardian_address_choices from public, anon, authenticated, service_role;

grant select on table public.guardian_address_choices to service_role;

-- The outbox: approval emails and the consent cap ---------------------------------------------

alter table public.notification_outbox drop constraint notification_outbox_kind_check;

alter table public.notification_outbox add constraint notification_outbox_kind_check
  check (kind in ('approval', 'consent', 'stream_started', 'stream_ended', 'recording_ready'));

alter table public.notification_outbox drop constraint notification_outbox_object_check;

alter table public.notification_outbox add constraint notification_outbox_object_check check (
  case kind
    when 'approval' then object_id <> guardian_id
    when 'consent' then object_id = guardian_id
    when 'stream_started' then session_id is not null and object_id = session_id
    when 'stream_ended' then session_id is not null and object_id = session_id
    when 'recording_ready' then recording_id is not null and object_id = recording_id
  end
);

alter table public.notification_outbox add column consent_slot_at timestamptz;

comment on column public.notification_outbox.object_id is
  'The session (stream_started, stream_ended), recording (recording_ready), guardian (consent) '
  'or invited guardian (approval, sent to the primary guardian in guardian_id) the email is '
  'about; part of the notification_outbox_once key.';

comment on column public.notification_outbox.consent_slot_at is
  'When this consent email took one of its address''s 3 consent emails per rolling 24 hours '
  '(private.consent_email_slot); null until then.';

create index notification_outbox_consent_slot_idx
  on public.notification_outbox (guardian_id, consent_slot_at)
  where consent_slot_at is not null;

alter table public.captured_emails drop constraint captured_emails_kind_check;

alter table public.captured_emails add constraint captured_emails_kind_check
  check (kind in ('approval', 'consent', 'stream_started', 'stream_ended', 'recording_ready'));

-- Consent is asked when a guardian becomes pending: at registration by the service, or when the
-- primary guardian approves an invitation.
create or replace function private.guardians_queue_consent() returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into public.notification_outbox
    (kind, guardian_id, streamer_id, object_id, next_attempt_at, created_at, updated_at)
  values ('consent', new.id, new.streamer_id, new.id, new.updated_at, new.updated_at,
          new.updated_at)
  on conflict on constraint notification_outbox_once do nothing;
  return null;
end
$$;

comment on function private.guardians_queue_consent() is
  'Trigger: a guardian that becomes pending (registered by the service, or approved by the '
  'primary guardian) is asked for consent (double opt-in) by email.';

create trigger guardians_queue_consent_on_approval
  after update of status on public.guardians
  for each row when (new.status = 'pending' and old.status = 'awaiting_approval')
  execute function private.guardians_queue_consent();

-- Approval emails: one per invitation, to the streamer's active primary guardian only.
create function private.queue_approval_requests(p_streamer_id uuid, p_now timestamptz)
returns void
language sql
volatile
set search_path = ''
as $$
  insert into public.notification_outbox
    (kind, guardian_id, streamer_id, object_id, next_attempt_at, created_at, updated_at)
  select 'approval', p.id, p.streamer_id, i.id, p_now, p_now, p_now
    from public.guardians p
    join public.guardians i
      on i.streamer_id = p.streamer_id and i.status = 'awaiting_approval'
   where p.streamer_id = p_streamer_id and p.role = 'primary' and p.status = 'active'
  on conflict on constraint notification_outbox_once do nothing
$$;

comment on function private.queue_approval_requests(uuid, timestamptz) is
  'Queues one approval email per invitation awaiting approval to the streamer''s active primary '
  'guardian (none without one); a repeat is a no-op. Owner only.';

-- The operations --------------------------------------------------------------------------------

create function private.guardian_choices_for(p_email text)
returns public.guardian_address_choices
language sql
stable
set search_path = ''
as $$
  select c.* from public.guardian_address_choices c where c.email = p_email
$$;

comment on function private.guardian_choices_for(text) is
  'The choices an address made itself, or a row of nulls. Owner only.';

create function private.guardian_invite(
  p_streamer_id uuid,
  p_email text,
  p_name text,
  p_notify jsonb,
  p_now timestamptz
)
returns table (outcome text, guardian jsonb, retry_after_seconds integer)
language plpgsql
volatile
set search_path = ''
set lock_timeout = '8s'
as $$
declare
  v_allowed boolean;
  v_retry integer;
  v_primary_id uuid;
  v_choices public.guardian_address_choices;
  v_row public.guardians;
  v_constraint text;
begin
  if not exists (select 1 from auth.users u where u.id = p_streamer_id) then
    return query select 'unknown_user'::text, null::jsonb, 0;
    return;
  end if;
  -- Every attempt counts, refused ones too: each could email an address the streamer typed.
  select h.allowed, h.retry_after_seconds into v_allowed, v_retry
    from private.rate_limit_hit('guardians-add:' || p_streamer_id::text, 30, 3600, p_now) h;
  if not v_allowed then
    return query select 'rate_limited'::text, null::jsonb, v_retry;
    return;
  end if;
  select g.id into v_primary_id
    from public.guardians g
   where g.streamer_id = p_streamer_id and g.role = 'primary' and g.status = 'active';
  if v_primary_id is null then
    return query select 'primary_guardian_required'::text, null::jsonb, 0;
    return;
  end if;
  v_choices := private.guardian_choices_for(p_email);
  -- A refused insert is an outcome, not an error, so that the hit above stays counted.
  begin
    insert into public.guardians as g
      (streamer_id, email, name, role, status, notify_stream_started, notify_stream_ended,
       notify_recording_ready, created_at, updated_at)
    values (
      p_streamer_id, p_email, p_name, 'viewer', 'awaiting_approval',
      coalesce(v_choices.notify_stream_started, (p_notify ->> 'streamStarted')::boolean, true),
      coalesce(v_choices.notify_stream_ended, (p_notify ->> 'streamEnded')::boolean, false),
      coalesce(v_choices.notify_recording_ready, (p_notify ->> 'recordingReady')::boolean, true),
      p_now, p_now
    )
    returning g.* into v_row;
  exception when unique_violation or check_violation then
    get stacked diagnostics v_constraint = constraint_name;
    if v_constraint = 'guardians_email_unique_per_streamer' then
      return query select 'guardian_exists'::text, null::jsonb, 0;
      return;
    elsif v_constraint = 'guardians_limit' then
      return query select 'guardian_limit'::text, null::jsonb, 0;
      return;
    end if;
    raise;
  end;
  insert into public.notification_outbox
    (kind, guardian_id, streamer_id, object_id, next_attempt_at, created_at, updated_at)
  values ('approval', v_primary_id, p_streamer_id, v_row.id, p_now, p_now, p_now)
  on conflict on constraint notification_outbox_once do nothing;
  return query select 'created'::text, to_jsonb(v_row), 0;
end
$$;

comment on function private.guardian_invite(uuid, text, text, jsonb, timestamptz) is
  'guardians POST by the streamer: counts the hit on the 30-an-hour limit, requires an active '
  'primary guardian, adds the invitation as awaiting_approval (an address''s own choices win '
  'over the streamer''s) and queues one approval email to the primary guardian. Outcomes: '
  'created, unknown_user, rate_limited, primary_guardian_required, guardian_exists, '
  'guardian_limit. Owner only.';

create function private.guardian_register(
  p_streamer_id uuid,
  p_email text,
  p_name text,
  p_role text,
  p_now timestamptz
)
returns table (outcome text, guardian jsonb, revoked_ids uuid[])
language plpgsql
volatile
set search_path = ''
set lock_timeout = '8s'
as $$
declare
  v_row public.guardians;
  v_revoked uuid[];
  v_choices public.guardian_address_choices;
begin
  if p_role not in ('primary', 'viewer') then
    raise exception 'Cannot register a guardian with role %', p_role
      using errcode = 'invalid_parameter_value';
  end if;
  if not exists (select 1 from auth.users u where u.id = p_streamer_id) then
    return query select 'unknown_streamer'::text, null::jsonb, '{}'::uuid[];
    return;
  end if;
  -- One registration of a streamer at a time (the same lock as guardians_enforce_limit).
  perform pg_catalog.pg_advisory_xact_lock(
    pg_catalog.hashtextextended('public.guardians:' || p_streamer_id::text, 0)
  );
  if p_role = 'primary' then
    select g.* into v_row
      from public.guardians g
     where g.streamer_id = p_streamer_id and g.role = 'primary' and g.status <> 'revoked'
       and g.email = p_email;
    if found then
      return query select 'unchanged'::text, to_jsonb(v_row), '{}'::uuid[];
      return;
    end if;
    -- The new primary replaces the old one, and the address's viewer row if it had one.
    with revoked as (
      update public.guardians g
         set status = 'revoked', revoked_at = p_now, updated_at = p_now
       where g.streamer_id = p_streamer_id and g.status <> 'revoked'
         and (g.role = 'primary' or g.email = p_email)
      returning g.id
    )
    select coalesce(array_agg(r.id), '{}') into v_revoked from revoked r;
  end if;
  v_choices := private.guardian_choices_for(p_email);
  insert into public.guardians as g
    (streamer_id, email, name, role, status, notify_stream_started, notify_stream_ended,
     notify_recording_ready, created_at, updated_at)
  values (
    p_streamer_id, p_email, p_name, p_role, 'pending',
    coalesce(v_choices.notify_stream_started, true),
    coalesce(v_choices.notify_stream_ended, false),
    coalesce(v_choices.notify_recording_ready, true),
    p_now, p_now
  )
  returning g.* into v_row;
  return query select 'created'::text, to_jsonb(v_row), coalesce(v_revoked, '{}'::uuid[]);
end
$$;

comment on function private.guardian_register(uuid, text, text, text, timestamptz) is
  'guardians POST by the service: registers a guardian as pending (its consent email is queued '
  'by guardians_queue_consent). A new primary revokes the old one (and a viewer row of the same '
  'address) in the same transaction; the same primary again is unchanged. Outcomes: created, '
  'unchanged, unknown_streamer. Owner only.';

create function private.guardian_revoke(
  p_actor_id uuid,
  p_guardian_id uuid,
  p_streamer_id uuid,
  p_now timestamptz
)
returns table (outcome text, guardian jsonb)
language plpgsql
volatile
set search_path = ''
set lock_timeout = '8s'
as $$
declare
  v_row public.guardians;
begin
  select g.* into v_row
    from public.guardians g
   where g.id = p_guardian_id and (p_streamer_id is null or g.streamer_id = p_streamer_id)
     for update;
  if not found then
    return query select 'not_found'::text, null::jsonb;
    return;
  end if;
  if v_row.streamer_id = p_actor_id then
    -- The child cannot remove the parent who approves who watches them.
    if v_row.role = 'primary' then
      return query select 'forbidden'::text, to_jsonb(v_row);
      return;
    end if;
  elsif not exists (
    select 1 from public.guardians p
     where p.streamer_id = v_row.streamer_id and p.user_id = p_actor_id
       and p.role = 'primary' and p.status = 'active'
  ) then
    if v_row.user_id = p_actor_id or exists (
      select 1 from public.guardians a
       where a.streamer_id = v_row.streamer_id and a.user_id = p_actor_id and a.status = 'active'
    ) then
      return query select 'forbidden'::text, to_jsonb(v_row);
    else
      return query select 'not_found'::text, null::jsonb;
    end if;
    return;
  end if;
  if v_row.status = 'revoked' then
    return query select 'unchanged'::text, to_jsonb(v_row);
    return;
  end if;
  update public.guardians g
     set status = 'revoked', revoked_at = p_now, updated_at = p_now
   where g.id = v_row.id
  returning g.* into v_row;
  return query select 'revoked'::text, to_jsonb(v_row);
end
$$;

comment on function private.guardian_revoke(uuid, uuid, uuid, timestamptz) is
  'guardians DELETE: the streamer revokes its viewers (not its primary guardian), the account '
  'bound to the active primary guardian revokes any guardian of that streamer. Outcomes: '
  'revoked, unchanged (already revoked), forbidden (the caller sees the row), not_found. '
  'Owner only.';

create function private.guardian_decide(
  p_primary_id uuid,
  p_guardian_id uuid,
  p_decision text,
  p_now timestamptz
)
returns table (outcome text, guardian jsonb)
language plpgsql
volatile
set search_path = ''
set lock_timeout = '8s'
as $$
declare
  v_row public.guardians;
begin
  if p_decision not in ('approve', 'deny') then
    raise exception 'Cannot decide %: the decision is approve or deny', p_decision
      using errcode = 'invalid_parameter_value';
  end if;
  select i.* into v_row
    from public.guardians i
    join public.guardians p on p.streamer_id = i.streamer_id
   where i.id = p_guardian_id and i.id <> p.id
     and p.id = p_primary_id and p.role = 'primary' and p.status = 'active'
     for update of i;
  if not found then
    return query select 'invalid_link'::text, null::jsonb;
    return;
  end if;
  if v_row.status = 'awaiting_approval' then
    update public.guardians g
       set status = case p_decision when 'approve' then 'pending' else 'revoked' end,
           revoked_at = case p_decision when 'deny' then p_now end,
           updated_at = p_now
     where g.id = v_row.id
    returning g.* into v_row;
    return query select (case p_decision when 'approve' then 'approved' else 'denied' end)::text,
                        to_jsonb(v_row);
  elsif (v_row.status = 'revoked') = (p_decision = 'deny') then
    return query select 'unchanged'::text, to_jsonb(v_row);
  else
    return query select 'decided'::text, to_jsonb(v_row);
  end if;
end
$$;

comment on function private.guardian_decide(uuid, uuid, text, timestamptz) is
  'guardian-approval POST: the active primary guardian (the approval link''s guardian) approves '
  '(pending, consent email queued) or denies (revoked) an invitation of its streamer. Outcomes: '
  'approved, denied, unchanged (that decision stands), decided (the other one does), '
  'invalid_link. Owner only.';

create function private.guardian_bind_account(p_guardian_id uuid, p_user_id uuid)
returns boolean
language plpgsql
volatile
set search_path = ''
set lock_timeout = '8s'
as $$
declare
  v_bound uuid;
begin
  update public.guardians g
     set user_id = p_user_id
   where g.id = p_guardian_id
     and g.status in ('pending', 'active')
     and g.user_id is null
     and g.streamer_id <> p_user_id
     and exists (select 1 from auth.users u where u.id = p_user_id and u.deleted_at is null)
     and not exists (
       select 1 from public.guardians o
        where o.streamer_id = g.streamer_id and o.user_id = p_user_id and o.status <> 'revoked'
     )
  returning g.id into v_bound;
  return v_bound is not null
    or exists (select 1 from public.guardians g where g.id = p_guardian_id and g.user_id = p_user_id);
end
$$;

comment on function private.guardian_bind_account(uuid, uuid) is
  'Binds a guardian to the signed-in account that presented its consent or watch link: only a '
  'pending or active guardian with no account yet, never the streamer itself, and at most one '
  'row per account and streamer. True when the guardian is bound to that account. Owner only.';

create function private.guardian_consent(p_guardian_id uuid, p_user_id uuid, p_now timestamptz)
returns table (outcome text, bound boolean, guardian jsonb)
language plpgsql
volatile
set search_path = ''
set lock_timeout = '8s'
as $$
declare
  v_row public.guardians;
  v_outcome text;
  v_bound boolean := false;
begin
  select g.* into v_row from public.guardians g where g.id = p_guardian_id for update;
  if not found or v_row.status not in ('pending', 'active') then
    return query select 'invalid_link'::text, false, null::jsonb;
    return;
  end if;
  if v_row.status = 'pending' then
    update public.guardians g
       set status = 'active', confirmed_at = p_now, updated_at = p_now
     where g.id = v_row.id;
    v_outcome := 'confirmed';
    if v_row.role = 'primary' then
      -- Invitations made before this primary guardian confirmed now reach it.
      perform private.queue_approval_requests(v_row.streamer_id, p_now);
    end if;
  else
    v_outcome := 'unchanged';
  end if;
  if p_user_id is not null then
    v_bound := private.guardian_bind_account(v_row.id, p_user_id);
  end if;
  select g.* into v_row from public.guardians g where g.id = p_guardian_id;
  return query select v_outcome, v_bound, to_jsonb(v_row);
end
$$;

comment on function private.guardian_consent(uuid, uuid, timestamptz) is
  'guardian-consent: a pending guardian becomes active (a primary one then gets the approval '
  'emails of invitations waiting for it); with p_user_id, the signed-in account that presented '
  'the link is bound to it. Outcomes: confirmed, unchanged (already active), invalid_link. '
  'Owner only.';

create function private.guardian_set_preferences(
  p_guardian_id uuid,
  p_notify jsonb,
  p_now timestamptz
)
returns table (outcome text, guardian jsonb)
language plpgsql
volatile
set search_path = ''
set lock_timeout = '8s'
as $$
declare
  v_row public.guardians;
  v_all_off boolean;
begin
  update public.guardians g
     set notify_stream_started =
           coalesce((p_notify ->> 'streamStarted')::boolean, g.notify_stream_started),
         notify_stream_ended = coalesce((p_notify ->> 'streamEnded')::boolean, g.notify_stream_ended),
         notify_recording_ready =
           coalesce((p_notify ->> 'recordingReady')::boolean, g.notify_recording_ready),
         updated_at = p_now
   where g.id = p_guardian_id and g.status <> 'revoked'
  returning g.* into v_row;
  if not found then
    return query select 'invalid_link'::text, null::jsonb;
    return;
  end if;
  v_all_off := not (v_row.notify_stream_started or v_row.notify_stream_ended
                    or v_row.notify_recording_ready);
  insert into public.guardian_address_choices as c
    (email, notify_stream_started, notify_stream_ended, notify_recording_ready, unsubscribed_at,
     updated_at)
  values (v_row.email, v_row.notify_stream_started, v_row.notify_stream_ended,
          v_row.notify_recording_ready, case when v_all_off then p_now end, p_now)
  on conflict on constraint guardian_address_choices_pkey do update
    set notify_stream_started = excluded.notify_stream_started,
        notify_stream_ended = excluded.notify_stream_ended,
        notify_recording_ready = excluded.notify_recording_ready,
        unsubscribed_at = case when v_all_off then coalesce(c.unsubscribed_at, p_now) end,
        updated_at = p_now;
  return query select 'updated'::text, to_jsonb(v_row);
end
$$;

comment on function private.guardian_set_preferences(uuid, jsonb, timestamptz) is
  'notification-preferences: changes the choices a preferences link''s guardian names and keeps '
  'them as its address''s own; every kind off marks the address unsubscribed (no consent email '
  'any more), any kind on clears that. Outcomes: updated, invalid_link. Owner only.';

create function private.consent_email_slot(p_outbox_id uuid, p_email text, p_now timestamptz)
returns table (allowed boolean, retry_at timestamptz)
language plpgsql
volatile
set search_path = ''
set lock_timeout = '8s'
as $$
declare
  v_count integer;
  v_oldest timestamptz;
begin
  -- One decision per address at a time, whichever drain asks.
  perform pg_catalog.pg_advisory_xact_lock(
    pg_catalog.hashtextextended('consent-email:' || p_email, 0)
  );
  if exists (
    select 1 from public.notification_outbox o
     where o.id = p_outbox_id and o.consent_slot_at is not null
  ) then
    return query select true, null::timestamptz;
    return;
  end if;
  select count(*), min(o.consent_slot_at) into v_count, v_oldest
    from public.guardians g
    join public.notification_outbox o on o.guardian_id = g.id
   where g.email = p_email and o.kind = 'consent'
     and o.consent_slot_at > p_now - interval '24 hours';
  if v_count >= 3 then
    return query select false, v_oldest + interval '24 hours';
    return;
  end if;
  update public.notification_outbox o set consent_slot_at = p_now where o.id = p_outbox_id;
  return query select true, null::timestamptz;
end
$$;

comment on function private.consent_email_slot(uuid, text, timestamptz) is
  'send-notification, before a consent email: takes one of the address''s 3 consent emails per '
  'rolling 24 hours across all streamers (a retried email keeps its slot), or says when the '
  'next slot frees; the email then waits in the outbox. Owner only.';

-- Owner only: a new function is executable by public until revoked, so each is revoked here and
-- granted to no one.
revoke all on function private.queue_approval_requests(uuid, timestamptz) from public;
revoke all on function private.guardian_choices_for(text) from public;
revoke all on function private.guardian_invite(uuid, text, text, jsonb, timestamptz) from public;
revoke all on function private.guardian_register(uuid, text, text, text, timestamptz) from public;
revoke all on function private.guardian_revoke(uuid, uuid, uuid, timestamptz) from public;
revoke all on function private.guardian_decide(uuid, uuid, text, timestamptz) from public;
revoke all on function private.guardian_bind_account(uuid, uuid) from public;
revoke all on function private.guardian_consent(uuid, uuid, timestamptz) from public;
revoke all on function private.guardian_set_preferences(uuid, jsonb, timestamptz) from public;
revoke all on function private.consent_email_slot(uuid, text, timestamptz) from public;
