-- The parent is the gatekeeper (supabase/migrations/*_guardian_gatekeeper.sql): through the Data
-- API a streamer cannot add, activate or re-enable guardians, nor skip the invitation limit; the
-- owner-only functions the edge functions call decide who may do what; accounts are never bound
-- by a matching email. Data API attacks run as PostgREST runs them: role authenticated with
-- request.jwt.claims.
begin;
create extension if not exists pgtap;
select plan(26);

-- streamer aaaaaaaa… with an active primary guardian (account cccccccc…) and an unsubscribed
-- active viewer; streamer bbbbbbbb… without a primary guardian; a stranger dddddddd… who signed
-- up with the viewer's address.
insert into auth.users (id, email, email_confirmed_at)
values
  ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'child@gate.test', now()),
  ('bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', 'other-child@gate.test', now()),
  ('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 'parent@gate.test', now());

insert into public.guardians
  (id, streamer_id, email, role, status, confirmed_at, user_id, notify_stream_started,
   notify_stream_ended, notify_recording_ready)
values
  ('a1000000-0000-4000-8000-000000000001', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
    'parent@gate.test', 'primary', 'active', now(), 'cccccccc-cccc-4ccc-8ccc-cccccccccccc',
    true, false, true),
  ('a1000000-0000-4000-8000-000000000002', 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
    'gran@gate.test', 'viewer', 'active', now(), null, false, false, false);

insert into public.guardian_address_choices
  (email, notify_stream_started, notify_stream_ended, notify_recording_ready, unsubscribed_at,
   updated_at)
values ('gran@gate.test', false, false, false, now(), now());

-- Owner only ---------------------------------------------------------------------------------

select ok(
  not exists (
    select 1
      from pg_proc p, unnest(array['anon', 'authenticated', 'service_role']) as r(role)
     where p.pronamespace = 'private'::regnamespace
       and p.proname in ('guardian_invite', 'guardian_register', 'guardian_revoke',
                         'guardian_decide', 'guardian_bind_account', 'guardian_consent',
                         'guardian_set_preferences', 'consent_email_slot',
                         'queue_approval_requests', 'guardian_choices_for')
       and has_function_privilege(r.role, p.oid, 'execute')
  ),
  'no API role may call the guardian operations: only their owner, the edge functions'
);
select is(
  (select count(*)::int from pg_proc
    where pronamespace = 'private'::regnamespace
      and proname in ('guardian_invite', 'guardian_register', 'guardian_revoke',
                      'guardian_decide', 'guardian_bind_account', 'guardian_consent',
                      'guardian_set_preferences', 'consent_email_slot')
      and not prosecdef),
  8,
  'they are security invoker: whoever could call them would need the table rights too'
);
select ok(
  not has_table_privilege('authenticated', 'public.guardian_address_choices', 'select')
    and not has_table_privilege('anon', 'public.guardian_address_choices', 'select')
    and not has_table_privilege('service_role', 'public.guardian_address_choices', 'insert')
    and not has_table_privilege('service_role', 'public.guardian_address_choices', 'update'),
  'an address''s choices are read by service_role only, and written by their function only'
);
select is_empty(
  $$ select tgname from pg_trigger
      where tgname in ('guardians_link_account', 'users_link_guardians') $$,
  'no trigger binds accounts to guardians by email'
);

-- The Data API, as the streamer ------------------------------------------------------------

set local role authenticated;
select set_config('request.jwt.claims',
  '{"sub":"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa","role":"authenticated","aud":"authenticated"}',
  true);

select throws_ok(
  $$ insert into public.guardians (streamer_id, email, status, confirmed_at)
     values ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'me-again@gate.test', 'active', now()) $$,
  '42501', null,
  'a streamer cannot insert its own (active) guardian'
);
select throws_ok(
  $$ insert into public.guardians (streamer_id, email)
     values ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'friend@gate.test') $$,
  '42501', null,
  'a streamer cannot insert an invitation around the limit and the approval'
);
select throws_ok(
  $$ update public.guardians set notify_stream_started = true
      where id = 'a1000000-0000-4000-8000-000000000002' $$,
  '42501', null,
  'a streamer cannot turn an unsubscribed guardian''s emails back on'
);
select throws_ok(
  $$ update public.guardians set status = 'active', confirmed_at = now()
      where streamer_id = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa' $$,
  '42501', null,
  'a streamer cannot activate a guardian'
);
select throws_ok(
  $$ update public.guardians set user_id = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'
      where id = 'a1000000-0000-4000-8000-000000000002' $$,
  '42501', null,
  'a streamer cannot bind an account to a guardian'
);
select throws_ok(
  $$ delete from public.guardians where id = 'a1000000-0000-4000-8000-000000000001' $$,
  '42501', null,
  'a streamer cannot delete its primary guardian'
);
select throws_ok(
  $$ update public.guardian_address_choices set unsubscribed_at = null $$,
  '42501', null,
  'a streamer cannot clear an address''s unsubscription'
);
select throws_ok(
  $$ delete from public.rate_limit_buckets $$,
  '42501', null,
  'a streamer cannot reset its invitation limit'
);
select throws_ok(
  $$ select * from private.guardian_invite('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
       'friend@gate.test', null, '{}', now()) $$,
  '42501', null,
  'a streamer cannot call the invitation function itself'
);
select throws_ok(
  $$ select * from private.guardian_set_preferences('a1000000-0000-4000-8000-000000000002',
       '{"streamStarted":true}', now()) $$,
  '42501', null,
  'nor the preferences function'
);
select throws_ok(
  $$ select private.guardian_bind_account('a1000000-0000-4000-8000-000000000002',
       'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa') $$,
  '42501', null,
  'nor the binding function'
);
reset role;
select set_config('request.jwt.claims', '', true);

-- The operations, as the edge functions call them ----------------------------------------

select is(
  (select outcome from private.guardian_invite(
     p_streamer_id => 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', p_email => 'friend@gate.test',
     p_name => null, p_notify => '{}', p_now => now())),
  'primary_guardian_required',
  'without an active primary guardian nobody can be invited'
);

-- 30 invitations an hour, refused ones included; the 31st is refused whatever it is.
select is(
  (select array_agg(i.outcome order by n)
     from generate_series(1, 31) n,
          lateral private.guardian_invite(
            p_streamer_id => 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
            p_email => format('kin-%s@gate.test', n % 9), p_name => null, p_notify => '{}',
            p_now => now()) i)
    = array_cat(array_cat(array_fill('created'::text, array[8]),
                          array_fill('guardian_limit'::text, array[22])),
                array['rate_limited']),
  true,
  '8 fit under the limit of 10, the refused ones count too, and the 31st hits the hourly limit'
);
select is(
  (select count(*)::int from public.notification_outbox o
    where o.kind = 'approval' and o.guardian_id = 'a1000000-0000-4000-8000-000000000001'),
  8,
  'each invitation queues one approval email, to the primary guardian only'
);
select is(
  (select notify_stream_started from public.guardians
    where email = 'gran@gate.test' and streamer_id = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'
      and status = 'active'),
  false,
  'fixture: the unsubscribed guardian stays unsubscribed'
);

select throws_ok(
  $$ update public.guardians set status = 'active', confirmed_at = now()
      where email = 'kin-1@gate.test' $$,
  '23514', null,
  'an invitation awaiting approval never becomes active directly'
);
select is(
  (select outcome from private.guardian_decide(
     p_primary_id => 'a1000000-0000-4000-8000-000000000002',
     p_guardian_id => (select id from public.guardians where email = 'kin-1@gate.test'),
     p_decision => 'approve', p_now => now())),
  'invalid_link',
  'a viewer cannot approve an invitation'
);
select is(
  (select outcome from private.guardian_revoke(
     p_actor_id => 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa',
     p_guardian_id => 'a1000000-0000-4000-8000-000000000001', p_streamer_id => null,
     p_now => now())),
  'forbidden',
  'the child cannot revoke its primary guardian'
);

-- Rights follow proof, never an email.
insert into auth.users (id, email, email_confirmed_at)
values ('dddddddd-dddd-4ddd-8ddd-dddddddddddd', 'gran@gate.test', now());
select is(
  (select user_id from public.guardians where id = 'a1000000-0000-4000-8000-000000000002'),
  null,
  'signing up with a guardian''s email binds nothing'
);
select is(
  private.guardian_bind_account('a1000000-0000-4000-8000-000000000002',
    'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'),
  false,
  'the streamer cannot be bound as its own guardian'
);
select is(
  private.guardian_bind_account('a1000000-0000-4000-8000-000000000002',
    'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb'),
  true,
  'the account that presents the guardian''s link is bound'
);
select is(
  private.guardian_bind_account('a1000000-0000-4000-8000-000000000002',
    'dddddddd-dddd-4ddd-8ddd-dddddddddddd'),
  false,
  'and no later account takes the binding over'
);

select * from finish();
rollback;
