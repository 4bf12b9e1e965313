-- What a Supabase project provides before any migration runs: the API roles, the auth and
-- extensions schemas, auth.users and the auth.uid()/auth.role()/auth.jwt() claim readers.
--
-- Idempotent, and on a real Supabase database it creates nothing: every object is created
-- only when it is missing, so nothing owned by Supabase is replaced or re-granted (the
-- postgres role may not even be allowed to touch those objects there). Runs on PostgreSQL
-- 15+ and on PGlite. dev/database.ts runs it before the migrations.

-- Roles are cluster wide: another database on the same server may be creating them at the
-- same moment (tests create one database per run), so a lost race counts as success.
do $baseline$
declare
  v_role record;
begin
  for v_role in
    select *
    from (
      values
        ('anon', 'create role anon nologin noinherit'),
        ('authenticated', 'create role authenticated nologin noinherit'),
        ('service_role', 'create role service_role nologin noinherit bypassrls'),
        ('authenticator', 'create role authenticator login noinherit')
    ) as r (name, ddl)
  loop
    if not exists (select from pg_catalog.pg_roles where rolname = v_role.name) then
      begin
        execute v_role.ddl;
      exception
        when duplicate_object or unique_violation then
          null;
      end;
    end if;
  end loop;
end
$baseline$;

-- PostgREST (and our functions' local equivalent) log in as authenticator and switch to
-- the role the JWT names.
do $baseline$
declare
  v_member text;
begin
  foreach v_member in array array['anon', 'authenticated', 'service_role'] loop
    if not pg_catalog.pg_has_role('authenticator', v_member, 'member') then
      begin
        execute format('grant %I to authenticator', v_member);
      exception
        when duplicate_object or unique_violation then
          null;
      end;
    end if;
  end loop;
end
$baseline$;

do $baseline$
begin
  if to_regnamespace('auth') is null then
    create schema auth;
  end if;
  if to_regnamespace('extensions') is null then
    create schema extensions;
  end if;
end
$baseline$;

-- The columns of Supabase Auth's users table (GoTrue's migrations), so that code and seed
-- data written against this table also run against a real project.
do $baseline$
begin
  if to_regclass('auth.users') is null then
    create table auth.users (
      instance_id uuid,
      id uuid not null,
      aud character varying(255),
      role character varying(255),
      email character varying(255),
      encrypted_password character varying(255),
      email_confirmed_at timestamp with time zone,
      invited_at timestamp with time zone,
      confirmation_token character varying(255),
      confirmation_sent_at timestamp with time zone,
      recovery_token character varying(255),
      recovery_sent_at timestamp with time zone,
      email_change_token_new character varying(255),
      email_change character varying(255),
      email_change_sent_at timestamp with time zone,
      last_sign_in_at timestamp with time zone,
      raw_app_meta_data jsonb,
      raw_user_meta_data jsonb,
      is_super_admin boolean,
      created_at timestamp with time zone,
      updated_at timestamp with time zone,
      phone text default null,
      phone_confirmed_at timestamp with time zone,
      phone_change text default '',
      phone_change_token character varying(255) default '',
      phone_change_sent_at timestamp with time zone,
      confirmed_at timestamp with time zone
        generated always as (least(email_confirmed_at, phone_confirmed_at)) stored,
      email_change_token_current character varying(255) default '',
      email_change_confirm_status smallint default 0,
      banned_until timestamp with time zone,
      reauthentication_token character varying(255) default '',
      reauthentication_sent_at timestamp with time zone,
      is_sso_user boolean not null default false,
      deleted_at timestamp with time zone,
      is_anonymous boolean not null default false,
      constraint users_pkey primary key (id),
      constraint users_phone_key unique (phone),
      constraint users_email_change_confirm_status_check
        check (email_change_confirm_status >= 0 and email_change_confirm_status <= 2)
    );
    create unique index users_email_partial_key on auth.users (email) where is_sso_user = false;
    create index users_instance_id_idx on auth.users (instance_id);
    create index users_instance_id_email_idx on auth.users (instance_id, lower(email));
    comment on table auth.users is
      'Auth: Stores user login data within a secure schema. (Local stand-in created by '
      'dev/supabase_baseline.sql; on Supabase the Auth service owns this table.)';
  end if;
end
$baseline$;

-- The claim readers, exactly as Supabase Auth defines them: PostgREST sets
-- request.jwt.claims (JSON) per request, older versions set request.jwt.claim.<name>.
-- nullif(..., '') matters: once set in a session, an unset setting reads as '' later.
do $baseline$
begin
  if to_regprocedure('auth.uid()') is null then
    create function auth.uid() returns uuid
    language sql
    stable
    as $fn$
      select
        coalesce(
          nullif(current_setting('request.jwt.claim.sub', true), ''),
          (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
        )::uuid
    $fn$;
    comment on function auth.uid() is 'Deprecated. Use auth.jwt() -> ''sub'' instead.';
  end if;

  if to_regprocedure('auth.role()') is null then
    create function auth.role() returns text
    language sql
    stable
    as $fn$
      select
        coalesce(
          nullif(current_setting('request.jwt.claim.role', true), ''),
          (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
        )::text
    $fn$;
    comment on function auth.role() is 'Deprecated. Use auth.jwt() -> ''role'' instead.';
  end if;

  if to_regprocedure('auth.jwt()') is null then
    create function auth.jwt() returns jsonb
    language sql
    stable
    as $fn$
      select
        coalesce(
          nullif(current_setting('request.jwt.claim', true), ''),
          nullif(current_setting('request.jwt.claims', true), '')
        )::jsonb
    $fn$;
  end if;
end
$baseline$;

-- Schema usage as Supabase grants it to the API roles (only where it is missing).
do $baseline$
declare
  v_schema text;
  v_role text;
begin
  foreach v_schema in array array['auth', 'extensions', 'public'] loop
    foreach v_role in array array['anon', 'authenticated', 'service_role'] loop
      if not pg_catalog.has_schema_privilege(v_role, v_schema, 'usage') then
        execute format('grant usage on schema %I to %I', v_schema, v_role);
      end if;
    end loop;
  end loop;
end
$baseline$;
