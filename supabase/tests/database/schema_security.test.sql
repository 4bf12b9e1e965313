-- Schema-wide security properties: RLS on every table, no privileges for anon, only
-- service_role on the service tables, comments on every table and policy, policies that
-- read the caller only through auth.uid(), locked-down helper functions.
begin;
create extension if not exists pgtap;
select plan(24);

select is_empty(
  $$ select c.relname from pg_catalog.pg_class c
     where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p')
       and not c.relrowsecurity $$,
  'every table in public has row level security enabled'
);
select is_empty(
  $$ select c.relname, p.privilege_type from pg_catalog.pg_class c
     cross join (values ('select'), ('insert'), ('update'), ('delete'), ('truncate'),
       ('references'), ('trigger')) as p (privilege_type)
     where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p', 'v', 'm')
       and has_table_privilege('anon', c.oid, p.privilege_type)
       -- pgTAP's own views, when it is installed in public
       and not exists (select from pg_catalog.pg_depend d
         where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e') $$,
  'anon has no privilege on any table or view of ours in public'
);
select is_empty(
  $$ select c.relname from pg_catalog.pg_class c
     cross join (values ('select'), ('insert'), ('update'), ('delete')) as p (privilege_type)
     where c.oid in ('public.notification_outbox'::regclass, 'public.webhook_events'::regclass,
       'public.rate_limit_buckets'::regclass)
       and case p.privilege_type
         when 'delete' then has_table_privilege('authenticated', c.oid, 'delete')
         else has_any_column_privilege('authenticated', c.oid, p.privilege_type)
       end $$,
  'authenticated has no privilege on the outbox, the webhook ledger or the rate-limit buckets'
);
select is_empty(
  $$ select c.relname from pg_catalog.pg_class c
     where c.relnamespace = 'public'::regnamespace and c.relkind = 'r'
       and has_table_privilege('authenticated', c.oid, 'delete') $$,
  'authenticated may delete from no table'
);
select is_empty(
  $$ select c.relname, p.privilege_type from pg_catalog.pg_class c
     cross join (values ('select'), ('insert'), ('update'), ('delete')) as p (privilege_type)
     where c.oid in ('public.stream_sessions'::regclass, 'public.session_participants'::regclass,
       'public.recordings'::regclass, 'public.guardians'::regclass,
       'public.notification_outbox'::regclass, 'public.webhook_events'::regclass,
       'public.idempotency_keys'::regclass, 'public.rate_limit_buckets'::regclass)
       and not has_table_privilege('service_role', c.oid, p.privilege_type) $$,
  'service_role may select, insert, update and delete on every table of the contract'
);
select ok(
  (select rolbypassrls from pg_catalog.pg_roles where rolname = 'service_role'),
  'service_role bypasses RLS'
);
select is_empty(
  $$ select c.relname from pg_catalog.pg_class c
     where c.relnamespace = 'public'::regnamespace and c.relkind = 'r'
       and obj_description(c.oid, 'pg_class') is null $$,
  'every table in public has a comment'
);
select is_empty(
  $$ select p.polname from pg_catalog.pg_policy p
     join pg_catalog.pg_class c on c.oid = p.polrelid
     where c.relnamespace = 'public'::regnamespace
       and obj_description(p.oid, 'pg_policy') is null $$,
  'every policy has a comment'
);
select is_empty(
  $$ select policyname from pg_catalog.pg_policies
     where schemaname = 'public' and roles <> array['authenticated']::name[] $$,
  'every policy applies to authenticated only'
);
select is_empty(
  $$ select policyname from pg_catalog.pg_policies
     where schemaname = 'public'
       and (coalesce(qual, '') || coalesce(with_check, '')) ~ 'current_setting|jwt' $$,
  'policies read the caller only through auth.uid()'
);
select is_empty(
  $$ select policyname from pg_catalog.pg_policies
     where schemaname = 'public'
       and regexp_count(coalesce(qual, '') || coalesce(with_check, ''), 'auth\.uid\(\)')
         <> regexp_count(coalesce(qual, '') || coalesce(with_check, ''), 'SELECT auth\.uid\(\)')
    $$,
  'policies call auth.uid() once per statement, as (select auth.uid())'
);
select policies_are(
  'public', 'stream_sessions',
  array['stream_sessions_select_own', 'stream_sessions_select_guarded'],
  'stream_sessions has exactly the policies of the contract (read-only for users)'
);
select policies_are(
  'public', 'notification_outbox', array[]::name[],
  'the outbox has no policies (service_role only)'
);
select is_empty(
  $$ select p.oid::regprocedure from pg_catalog.pg_proc p
     where p.pronamespace = 'private'::regnamespace and p.prosecdef
       and not coalesce(array['search_path=""'] <@ p.proconfig, false) $$,
  'every security definer function in private runs with an empty search_path'
);
select ok(
  not has_schema_privilege('anon', 'private', 'usage'),
  'anon cannot use the private schema'
);
select ok(
  has_function_privilege('service_role', 'private.rate_limit_hit(text, integer, integer, timestamptz)', 'execute')
  and not has_function_privilege('authenticated', 'private.rate_limit_hit(text, integer, integer, timestamptz)', 'execute')
  and not has_function_privilege('anon', 'private.rate_limit_hit(text, integer, integer, timestamptz)', 'execute'),
  'only service_role may call private.rate_limit_hit'
);
select ok(
  has_function_privilege('authenticated', 'private.is_active_guardian(uuid)', 'execute')
  and not has_function_privilege('anon', 'private.is_active_guardian(uuid)', 'execute'),
  'authenticated (the policies) may call private.is_active_guardian, anon may not'
);

-- The helper and the claim readers, as the callers see them.
insert into auth.users (id, email, email_confirmed_at)
values
  ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'owner@schema.test', now()),
  ('cccccccc-cccc-4ccc-8ccc-cccccccccccc', 'guardian@schema.test', now()),
  ('dddddddd-dddd-4ddd-8ddd-dddddddddddd', 'revoked@schema.test', now());
-- Accounts are bound by proof (private.guardian_bind_account), never by email: set here.
insert into public.guardians (streamer_id, email, status, confirmed_at, revoked_at, user_id)
values
  ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'guardian@schema.test', 'active', now(), null,
    'cccccccc-cccc-4ccc-8ccc-cccccccccccc'),
  ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'revoked@schema.test', 'revoked', now(), now(),
    'dddddddd-dddd-4ddd-8ddd-dddddddddddd');

set local role authenticated;
select set_config('request.jwt.claims',
  '{"sub":"cccccccc-cccc-4ccc-8ccc-cccccccccccc","role":"authenticated"}', true);
select results_eq(
  $$ select auth.uid(), auth.role(), auth.jwt() ->> 'sub',
       private.is_active_guardian('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa') $$,
  $$ values ('cccccccc-cccc-4ccc-8ccc-cccccccccccc'::uuid, 'authenticated',
       'cccccccc-cccc-4ccc-8ccc-cccccccccccc', true) $$,
  'auth.uid(), auth.role() and auth.jwt() read request.jwt.claims; an active guardian is one'
);
select set_config('request.jwt.claims',
  '{"sub":"dddddddd-dddd-4ddd-8ddd-dddddddddddd","role":"authenticated"}', true);
select is(
  private.is_active_guardian('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'),
  false,
  'a revoked guardian is not an active guardian'
);
select set_config('request.jwt.claims',
  '{"sub":"aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa","role":"authenticated"}', true);
select is(
  private.is_active_guardian('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa'),
  false,
  'a streamer is not their own guardian'
);
select set_config('request.jwt.claims', '', true);
select results_eq(
  $$ select auth.uid(), private.is_active_guardian('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa') $$,
  $$ values (null::uuid, false) $$,
  'without claims there is no user, and no guardian'
);
select throws_ok(
  $$ select * from private.rate_limit_hit('schema:key', 1, 1, now()) $$,
  '42501', 'permission denied for function rate_limit_hit',
  'authenticated cannot call the rate limiter'
);
reset role;

-- Supabase Auth writes auth.users as its own role, which has no rights on our schemas: signing
-- up must work for it, and an account never gets a guardian's rights from its email.
create role schema_test_auth_admin nologin;
grant usage on schema auth to schema_test_auth_admin;
grant select, insert, update on auth.users to schema_test_auth_admin;
insert into public.guardians (streamer_id, email)
values ('aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', 'signs-up-later@schema.test');
set local role schema_test_auth_admin;
select lives_ok(
  $$ insert into auth.users (id, email, email_confirmed_at)
     values ('eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee', 'signs-up-later@schema.test', now()) $$,
  'the auth service can create users'
);
reset role;
select is(
  (select user_id from public.guardians where email = 'signs-up-later@schema.test'),
  null,
  'a user created by the auth service with a guardian''s email is not bound to it'
);

select * from finish();
rollback;
