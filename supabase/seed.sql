-- Demo data for local runs (the Supabase CLI runs this after the migrations; so does
-- dev/database.ts). Idempotent: every insert skips rows that already exist. Other code uses
-- these ids (dev/seed_ids.ts), so keep them fixed.
--
-- streamer A        11111111-1111-4111-8111-111111111111  streamer@example.test
-- streamer B        22222222-2222-4222-8222-222222222222  other-streamer@example.test
-- guardian user     33333333-3333-4333-8333-333333333333  parent@example.test
--   active primary guardian of A (the parent who approves A's invitations), bound to that
--   account, row 44444444-4444-4444-8444-444444444444
-- revoked user      55555555-5555-4555-8555-555555555555  revoked-parent@example.test
--   revoked guardian of A, row 66666666-6666-4666-8666-666666666666
-- pending guardian of A (no account), row 77777777-7777-4777-8777-777777777777
--   pending-parent@example.test
-- an ended session of A with one ready (uploaded) recording, for demos.

-- Token columns are '' rather than null: Supabase Auth cannot scan nulls there.
insert into auth.users (
  instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
  confirmation_token, recovery_token, email_change_token_new, email_change,
  raw_app_meta_data, raw_user_meta_data, created_at, updated_at
)
values
  (
    '00000000-0000-0000-0000-000000000000', '11111111-1111-4111-8111-111111111111',
    'authenticated', 'authenticated', 'streamer@example.test', '',
    '2026-01-01 00:00:00+00', '', '', '', '',
    '{"provider":"email","providers":["email"]}', '{"name":"Streamer A"}',
    '2026-01-01 00:00:00+00', '2026-01-01 00:00:00+00'
  ),
  (
    '00000000-0000-0000-0000-000000000000', '22222222-2222-4222-8222-222222222222',
    'authenticated', 'authenticated', 'other-streamer@example.test', '',
    '2026-01-01 00:00:00+00', '', '', '', '',
    '{"provider":"email","providers":["email"]}', '{"name":"Streamer B"}',
    '2026-01-01 00:00:00+00', '2026-01-01 00:00:00+00'
  ),
  (
    '00000000-0000-0000-0000-000000000000', '33333333-3333-4333-8333-333333333333',
    'authenticated', 'authenticated', 'parent@example.test', '',
    '2026-01-01 00:00:00+00', '', '', '', '',
    '{"provider":"email","providers":["email"]}', '{"name":"Parent"}',
    '2026-01-01 00:00:00+00', '2026-01-01 00:00:00+00'
  ),
  (
    '00000000-0000-0000-0000-000000000000', '55555555-5555-4555-8555-555555555555',
    'authenticated', 'authenticated', 'revoked-parent@example.test', '',
    '2026-01-01 00:00:00+00', '', '', '', '',
    '{"provider":"email","providers":["email"]}', '{"name":"Revoked parent"}',
    '2026-01-01 00:00:00+00', '2026-01-01 00:00:00+00'
  )
on conflict do nothing;

-- user_id stands for the binding a signed-in account makes by presenting its guardian's consent
-- or watch link (private.guardian_bind_account); accounts are never bound by their email.
insert into public.guardians (
  id, streamer_id, email, name, role, status, user_id, created_at, updated_at, confirmed_at,
  revoked_at
)
values
  (
    '44444444-4444-4444-8444-444444444444', '11111111-1111-4111-8111-111111111111',
    'parent@example.test', 'Parent', 'primary', 'active', '33333333-3333-4333-8333-333333333333',
    '2026-01-02 00:00:00+00', '2026-01-02 00:10:00+00', '2026-01-02 00:10:00+00', null
  ),
  (
    '66666666-6666-4666-8666-666666666666', '11111111-1111-4111-8111-111111111111',
    'revoked-parent@example.test', 'Revoked parent', 'viewer', 'revoked',
    '55555555-5555-4555-8555-555555555555',
    '2026-01-02 00:00:00+00', '2026-01-03 00:00:00+00', '2026-01-02 00:10:00+00',
    '2026-01-03 00:00:00+00'
  ),
  (
    '77777777-7777-4777-8777-777777777777', '11111111-1111-4111-8111-111111111111',
    'pending-parent@example.test', 'Pending parent', 'viewer', 'pending', null,
    '2026-01-04 00:00:00+00', '2026-01-04 00:00:00+00', null, null
  )
on conflict do nothing;

-- Recorded sessions get a pending egress recording from a trigger; this demo session was not
-- recorded by LiveKit, and the streamer uploaded a recording of it afterwards.
insert into public.stream_sessions (
  id, streamer_id, title, status, end_reason, room_name, record, client, created_at,
  started_at, ended_at, duration_seconds, viewers_current, viewers_peak, viewers_total,
  updated_at
)
values (
  '88888888-8888-4888-8888-888888888888', '11111111-1111-4111-8111-111111111111',
  'First stream', 'ended', 'streamer_ended', 'session-88888888-8888-4888-8888-888888888888',
  false, '{"platform":"quest","appVersion":"0.1.0","device":"Quest 3"}',
  '2026-01-05 18:00:00+00', '2026-01-05 18:00:05+00', '2026-01-05 18:30:05+00', 1800, 0, 1, 1,
  '2026-01-05 18:30:05+00'
)
on conflict do nothing;

insert into public.recordings (
  id, session_id, streamer_id, source, status, object_path, content_type, size_bytes,
  expected_size_bytes, duration_seconds, created_at, updated_at, ready_at
)
values (
  '99999999-9999-4999-8999-999999999999', '88888888-8888-4888-8888-888888888888',
  '11111111-1111-4111-8111-111111111111', 'upload', 'ready',
  'uploads/11111111-1111-4111-8111-111111111111/88888888-8888-4888-8888-888888888888/99999999-9999-4999-8999-999999999999.mp4',
  'video/mp4', 52428800, 52428800, 1795, '2026-01-05 18:31:00+00', '2026-01-05 18:33:00+00',
  '2026-01-05 18:33:00+00'
)
on conflict do nothing;
