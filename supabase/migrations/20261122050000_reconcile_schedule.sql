-- reconcile every five minutes where pg_cron and pg_net exist (Supabase), guarded so plain
-- PostgreSQL and PGlite still migrate. The project URL and service role key come from Vault
-- (project_url, service_role_key), as for the outbox drain.

do $migration$
begin
  if not exists (select 1 from pg_catalog.pg_available_extensions where name = 'pg_cron')
    or not exists (select 1 from pg_catalog.pg_available_extensions where name = 'pg_net') then
    raise notice 'pg_cron or pg_net is not available: no scheduled reconcile';
    return;
  end if;

  begin
    create extension if not exists pg_cron;
    create extension if not exists pg_net with schema extensions;
  exception when others then
    raise notice 'Cannot enable pg_cron and pg_net (%): no scheduled reconcile', sqlerrm;
    return;
  end;

  execute $function$
    create or replace function private.invoke_edge_function(p_name text, p_body jsonb)
    returns bigint
    language plpgsql
    security definer
    set search_path = ''
    as $body$
    declare
      v_url text;
      v_key text;
    begin
      if pg_catalog.to_regclass('vault.decrypted_secrets') is null then
        raise warning 'Cannot call %: Supabase Vault is not installed', p_name;
        return null;
      end if;
      execute 'select decrypted_secret from vault.decrypted_secrets where name = $1'
        into v_url using 'project_url';
      execute 'select decrypted_secret from vault.decrypted_secrets where name = $1'
        into v_key using 'service_role_key';
      if v_url is null or v_key is null then
        raise warning 'Cannot call %: store project_url and service_role_key in Vault', p_name;
        return null;
      end if;
      return net.http_post(
        url := pg_catalog.rtrim(v_url, '/') || '/functions/v1/' || p_name,
        body := p_body,
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
    comment on function private.invoke_edge_function(text, jsonb) is
      'pg_cron: POSTs a service-only edge function (pg_net) with the project URL and service '
      'role key kept in Vault as project_url and service_role_key.'
  $comment$;

  execute 'revoke all on function private.invoke_edge_function(text, jsonb) from public';

  perform cron.schedule(
    'reconcile-livekit',
    '*/5 * * * *',
    $$select private.invoke_edge_function('reconcile', '{}'::jsonb)$$
  );
end
$migration$;
