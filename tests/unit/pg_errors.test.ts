/** shared/kernel/pg_errors.ts: one answer for one rule, whichever door the failure came through. */
import assert from "node:assert/strict";
import { mapDatabaseError, sessionAlreadyLive } from "../../shared/kernel/pg_errors.ts";

/** A failure shaped as postgres.js raises it. */
function databaseError(code: string, constraint: string): Error {
  return Object.assign(new Error("duplicate key value"), {
    name: "PostgresError",
    code,
    constraint_name: constraint,
  });
}

Deno.test("the one-active-session index is answered as start-session answers a live session", () => {
  const mapped = mapDatabaseError(
    databaseError("23505", "stream_sessions_one_active_per_streamer"),
  );
  const expected = sessionAlreadyLive();
  assert.equal(mapped?.status, 409);
  assert.equal(mapped?.code, "session_already_live");
  assert.equal(mapped?.message, expected.message);
});

Deno.test("sessionAlreadyLive names the live session only when it is known", () => {
  assert.deepEqual(sessionAlreadyLive("a-session").details, { sessionId: "a-session" });
  assert.equal(sessionAlreadyLive().details, undefined);
});

Deno.test("a constraint named like an object's own property is no named conflict", () => {
  const mapped = mapDatabaseError(databaseError("23514", "toString"));
  assert.equal(mapped?.status, 500);
  assert.equal(mapped?.code, "internal_error");
});
