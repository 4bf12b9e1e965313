-- Guardian email (send-notification): where emails are kept when no SendGrid key is set, the
-- streamer's display name for email text, and a drain of the outbox every minute where pg_cron
-- and pg_net exist (Supabase). Plain Postgres and PGlite skip the schedule and still migrate;
-- there the functions that queue emails ask for a drain themselves.

-- Captured emails --------------------------------------------------------------------------

create table public.captured_emails (
  id uuid not null default gen_random_uuid(),
  notification_id uuid,
  kind text not null,
  from_address text not null,
  to_address text not null,
  subject text not null,
  text_body text not null,
  html_body text not null,
  headers jsonb not null default '{}'::jsonb,
  custom_args jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now(),
  constraint captured_emails_pkey primary key (id),
  constraint captured_emails_notification_id_fkey foreign key (notification_id)
    references public.notification_outbox (id) on delete set null,
  constraint captured_emails_kind_check
    check (kind in ('consent', 'stream_started', 'stream_ended', 'recording_ready')),
  constraint captured_emails_headers_is_object check (jsonb_typeof(headers) = 'object'),
  constraint captured_emails_custom_args_is_object check (jsonb_typeof(custom_args) = 'object')
);

comment on table public.captured_emails is
  'Emails send-notification would have handed to SendGrid, kept here instead when '
  'SENDGRID_API_KEY is not set (local runs; the dev server shows them at /_dev/mail). They '
  'carry live link tokens: service_role only, no user may read them.';

create index captured_emails_created_at_idx on public.captured_emails (created_at desc);

alter table public.captured_emails enable row level security;

revoke all on table public.captured_emails from public, anon, authenticated, service_role;

grant select, insert, delete on table public.captured_emails to service_role;

-- Streamer display name --------------------------------------------------------------------

create function private.streamer_display_name(p_streamer_id uuid) returns text
language sql
stable
security definer
set search_path = ''
as $$
  select nullif(btrim(coalesce(
           u.raw_user_meta_data ->> 'full_name',
           u.raw_user_meta_data ->> 'name',
           u.raw_user_meta_data ->> 'display_name'
         )), '')
    from auth.users u
   where u.id = p_streamer_id
$$;

comment on function private.streamer_display_name(uuid) is
  'The name a streamer gave their account (user metadata), for the text of guardian emails; '
  'null when none. Security definer: service_role cannot read auth.users.';

revoke all on function private.streamer_display_name(uuid) from public;

grant execute on function private.streamer_display_name(uuid) to service_role;

-- A drain every minute where pg_cron and pg_net exist ---------------------------------------

do $migration$
begin
  if not exists (select 1 from pg_catalog.pg_available_extensions where name = 'pg_cron')
    or not exists (select 1 from pg_catalog.pg_available_extensions where name = 'pg_net') then
    raise notice 'pg_cron or pg_net is not available: no scheduled outbox drain';
    return;
  end if;

  begin
    create extension if not exists pg_cron;
    create extension if not exists pg_net with schema extensions;
  exception when others then
    -- Available is not loadable: pg_cron must also be in shared_preload_libraries.
    raise notice 'Cannot enable pg_cron and pg_net (%): no scheduled outbox drain', sqlerrm;
    return;
  end;

  execute $function$
    create or replace function private.request_outbox_drain() returns bigint
    language plpgsql
    security definer
    set search_path = ''
    as $body$
    declare
      v_url text;
      v_key text;
    begin
      -- Idle minutes cost nothing: the function is called only when something is due.
      if not exists (
        select 1
          from public.notification_outbox o
         where o.status in ('queued', 'sending')
           and o.next_attempt_at <= now()
           and (o.locked_until is null or o.locked_until <= now())
      ) then
        return null;
      end if;
      if pg_catalog.to_regclass('vault.decrypted_secrets') is null then
        raise warning 'Cannot request an outbox drain: Supabase Vault is not installed';
        return null;
      end if;
      execute 'select decrypted_secret from vault.decrypted_secrets where name = $1'
        into v_url using 'project_url';
      execute 'select decrypted_secret from vault.decrypted_secrets where name = $1'
        into v_key using 'service_role_key';
      if v_url is null or v_key is null then
        raise warning 'Cannot request an outbox drain: store project_url and service_role_key in Vault';
        return null;
      end if;
      return net.http_post(
        url := pg_catalog.rtrim(v_url, '/') || '/functions/v1/send-notification',
        body := pg_catalog.jsonb_build_object('limit', 500),
        headers := pg_catalog.jsonb_build_object(
          'content-type', 'application/json',
          'authorization', 'Bearer ' || v_key
        ),
        timeout_milliseconds := 60000
      );
    end
    $body$
  $function$;

  execute $comment$
    comment on function private.request_outbox_drain() is
      'pg_cron, every minute: when outbox rows are due, POSTs send-notification (pg_net) with '
      'the project URL and service role key kept in Vault as project_url and service_role_key.'
  $comment$;

  execute 'revoke all on function private.request_outbox_drain() from public';

  perform cron.schedule(
    'drain-notification-outbox',
    '* * * * *',
    'select private.request_outbox_drain()'
  );
end
$migration$;
