/**
 * The viewer's live state machine (`viewer/src/watch_machine.ts`) over a fake room, a fake
 * backend, manual timers and a switchable network: no browser, no media library.
 */
import assert from "node:assert/strict";
import { ApiError, type SessionDetails } from "../../viewer/src/api.ts";
import type { LiveKitGrantJson, RecordingJson, SessionJson } from "../../viewer/src/contract.ts";
import type { NetworkStatus, RoomAdapter, RoomEvent, Timers } from "../../viewer/src/room.ts";
import {
  createWatchMachine,
  describeWatchState,
  type WatchBackend,
} from "../../viewer/src/watch_machine.ts";

const SESSION_ID = "8b4f7b1e-3f0a-4c1e-9a53-0d6d1c5e2a11";

function session(overrides: Partial<SessionJson> = {}): SessionJson {
  return {
    id: SESSION_ID,
    streamerId: "0f2c9a4e-1b7d-4e5f-8a90-1c2d3e4f5a6b",
    title: "Beat Saber",
    status: "live",
    endReason: null,
    roomName: `session-${SESSION_ID}`,
    createdAt: "2026-12-01T10:00:00.000Z",
    startedAt: "2026-12-01T10:00:05.000Z",
    endedAt: null,
    durationSeconds: null,
    viewers: { current: 2, peak: 2, total: 3 },
    recording: { enabled: true, status: "recording" },
    ...overrides,
  };
}

function recording(status: RecordingJson["status"]): RecordingJson {
  return {
    id: "5d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6",
    sessionId: SESSION_ID,
    source: "egress",
    status,
    contentType: "video/mp4",
    sizeBytes: status === "ready" ? 1000 : null,
    durationSeconds: status === "ready" ? 60 : null,
    createdAt: "2026-12-01T10:00:06.000Z",
    readyAt: status === "ready" ? "2026-12-01T10:05:00.000Z" : null,
    error: null,
  };
}

class FakeRoom implements RoomAdapter {
  readonly grants: string[] = [];
  disconnected = false;
  /** What `numParticipants` would say; the machine must not use it. */
  readonly numParticipants = 99;
  #listeners = new Set<(event: RoomEvent) => void>();
  constructor(private readonly joinFails = false) {}
  connect(grant: { url: string; token: string }): Promise<void> {
    this.grants.push(grant.token);
    return this.joinFails ? Promise.reject(new Error("join failed")) : Promise.resolve();
  }
  disconnect(): Promise<void> {
    this.disconnected = true;
    this.emit({ type: "disconnected", reason: "client_initiated" });
    return Promise.resolve();
  }
  subscribe(listener: (event: RoomEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  emit(event: RoomEvent): void {
    for (const listener of [...this.#listeners]) listener(event);
  }
}

class ManualTimers implements Timers {
  now = 0;
  #pending: { at: number; callback: () => void; cancelled: boolean }[] = [];
  after(ms: number, callback: () => void): () => void {
    const entry = { at: this.now + ms, callback, cancelled: false };
    this.#pending.push(entry);
    return () => void (entry.cancelled = true);
  }
  /** Moves time forward, firing what falls due (and settling what they start). */
  async advance(ms: number): Promise<void> {
    const until = this.now + ms;
    for (;;) {
      const due = this.#pending.filter((t) => !t.cancelled && t.at <= until)
        .sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      due.cancelled = true;
      this.now = due.at;
      due.callback();
      await settle();
    }
    this.now = until;
  }
  scheduled(): number {
    return this.#pending.filter((t) => !t.cancelled).length;
  }
}

class FakeNetwork implements NetworkStatus {
  isOnline = true;
  #listeners = new Set<(online: boolean) => void>();
  online(): boolean {
    return this.isOnline;
  }
  subscribe(listener: (online: boolean) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  set(online: boolean): void {
    this.isOnline = online;
    for (const listener of this.#listeners) listener(online);
  }
}

/** A backend whose answers the test sets; it counts the grants it gave. */
class FakeBackend implements WatchBackend {
  grantsIssued = 0;
  grantError?: ApiError;
  current: SessionJson = session();
  recordings: RecordingJson[] = [];
  detailsCalls = 0;
  grant(): Promise<{ livekit: LiveKitGrantJson; session: SessionJson }> {
    if (this.grantError) return Promise.reject(this.grantError);
    this.grantsIssued++;
    return Promise.resolve({
      session: this.current,
      livekit: {
        url: "ws://127.0.0.1:7880",
        token: `grant-${this.grantsIssued}`,
        roomName: this.current.roomName,
        identity: "guardian:x",
        expiresAt: "2026-12-01T10:05:00.000Z",
        canPublish: false,
      },
    });
  }
  details(): Promise<SessionDetails> {
    this.detailsCalls++;
    return Promise.resolve({ session: this.current, recordings: this.recordings });
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
  await new Promise((resolve) => setTimeout(resolve, 0));
}

function setup(options: { joinFails?: boolean } = {}) {
  const backend = new FakeBackend();
  const timers = new ManualTimers();
  const network = new FakeNetwork();
  const rooms: FakeRoom[] = [];
  const machine = createWatchMachine({
    backend,
    timers,
    network,
    createRoom: () => {
      const room = new FakeRoom(options.joinFails);
      rooms.push(room);
      return room;
    },
    pollMs: 10_000,
    retryBaseMs: 1000,
  });
  const phases: string[] = [];
  machine.subscribe((state) => {
    if (phases.at(-1) !== state.phase) phases.push(state.phase);
  });
  return { backend, timers, network, rooms, machine, phases };
}

function linkError(code: string, status: number, retryAfterSeconds?: number): ApiError {
  return new ApiError("refused", { status, code, retryAfterSeconds });
}

Deno.test("a watch link joins with a grant, waits for the streamer, then shows live", async () => {
  const { machine, rooms, phases } = setup();
  machine.start();
  await settle();
  assert.equal(machine.state().phase, "waiting");
  assert.equal(describeWatchState(machine.state()), "Waiting for the streamer to start.");
  assert.deepEqual(rooms[0].grants, ["grant-1"]);
  rooms[0].emit({ type: "streamer_video", present: true });
  assert.equal(machine.state().phase, "live");
  assert.deepEqual(phases, ["connecting", "waiting", "live"]);
  await machine.stop();
});

Deno.test("the viewer count comes from the backend's streams, not from the room", async () => {
  const { machine, rooms, backend, timers } = setup();
  machine.start();
  await settle();
  rooms[0].emit({ type: "streamer_video", present: true });
  assert.equal(machine.state().viewers, 2);
  backend.current = session({ viewers: { current: 5, peak: 5, total: 6 } });
  await timers.advance(10_000);
  assert.equal(machine.state().viewers, 5);
  assert.equal(describeWatchState(machine.state()), "Live. 5 people watching.");
  await machine.stop();
});

Deno.test("a lost connection is rejoined with a fresh grant after a backoff", async () => {
  const { machine, rooms, backend, timers } = setup();
  machine.start();
  await settle();
  rooms[0].emit({ type: "disconnected", reason: "connection_lost" });
  await settle();
  assert.equal(machine.state().phase, "error");
  assert.equal(machine.state().problem, "unavailable");
  assert.equal(machine.state().retryInSeconds, 1);
  assert.equal(backend.grantsIssued, 1);
  await timers.advance(1000);
  assert.equal(backend.grantsIssued, 2);
  assert.equal(rooms.length, 2);
  assert.deepEqual(rooms[1].grants, ["grant-2"]);
  assert.ok(rooms[0].disconnected);
  assert.equal(machine.state().phase, "waiting");
  await machine.stop();
});

Deno.test("failed joins back off exponentially, each with a fresh grant", async () => {
  const { machine, backend, timers } = setup({ joinFails: true });
  machine.start();
  await settle();
  assert.equal(machine.state().retryInSeconds, 1);
  await timers.advance(1000);
  assert.equal(machine.state().retryInSeconds, 2);
  await timers.advance(2000);
  assert.equal(machine.state().retryInSeconds, 4);
  assert.equal(backend.grantsIssued, 3);
  await machine.stop();
  await timers.advance(60_000);
  assert.equal(backend.grantsIssued, 3, "no attempt after stop");
});

Deno.test("reconnecting shows its state and returns to live", async () => {
  const { machine, rooms, phases } = setup();
  machine.start();
  await settle();
  rooms[0].emit({ type: "streamer_video", present: true });
  rooms[0].emit({ type: "reconnecting" });
  assert.equal(describeWatchState(machine.state()), "Connection lost. Reconnecting…");
  rooms[0].emit({ type: "reconnected" });
  assert.deepEqual(phases, ["connecting", "waiting", "live", "reconnecting", "live"]);
  await machine.stop();
});

Deno.test("DUPLICATE_IDENTITY says another device took over and waits for the viewer", async () => {
  const { machine, rooms, backend, timers } = setup();
  machine.start();
  await settle();
  rooms[0].emit({ type: "disconnected", reason: "duplicate_identity" });
  await settle();
  assert.equal(machine.state().problem, "duplicate_identity");
  assert.match(describeWatchState(machine.state()), /another device/);
  await timers.advance(120_000);
  assert.equal(backend.grantsIssued, 1, "no automatic rejoin that would kick the other device");
  machine.retry();
  await settle();
  assert.equal(backend.grantsIssued, 2);
  assert.equal(machine.state().phase, "waiting");
  await machine.stop();
});

Deno.test("PARTICIPANT_REMOVED says access was removed and never rejoins", async () => {
  const { machine, rooms, backend, timers } = setup();
  machine.start();
  await settle();
  rooms[0].emit({ type: "disconnected", reason: "participant_removed" });
  await timers.advance(120_000);
  assert.equal(machine.state().problem, "removed");
  assert.match(describeWatchState(machine.state()), /access to this stream was removed/);
  assert.equal(backend.grantsIssued, 1);
});

Deno.test("an expired or revoked link says what to do next", async () => {
  const { machine, backend } = setup();
  backend.grantError = linkError("invalid_link", 401);
  machine.start();
  await settle();
  assert.equal(machine.state().problem, "invalid_link");
  assert.match(describeWatchState(machine.state()), /expired or is no longer active\. Open/);
});

Deno.test("a link that dies while watching stops the view at the next poll", async () => {
  const { machine, backend, timers, rooms } = setup();
  machine.start();
  await settle();
  backend.details = () => Promise.reject(linkError("invalid_link", 401));
  await timers.advance(10_000);
  assert.equal(machine.state().problem, "invalid_link");
  assert.ok(rooms[0].disconnected);
});

Deno.test("a session that already ended shows its recordings instead of joining", async () => {
  const { machine, backend, rooms } = setup();
  backend.grantError = linkError("session_ended", 409);
  backend.current = session({ status: "ended", endReason: "streamer_ended" });
  backend.recordings = [recording("ready")];
  machine.start();
  await settle();
  assert.equal(rooms.length, 0);
  assert.equal(machine.state().phase, "ended");
  assert.deepEqual(machine.state().recordings.map((r) => r.status), ["ready"]);
  assert.equal(describeWatchState(machine.state()), "The stream has ended. 1 recording ready.");
});

Deno.test("the streamer ending flips the view to the recordings, which are read until ready", async () => {
  const { machine, backend, rooms, timers } = setup();
  machine.start();
  await settle();
  rooms[0].emit({ type: "streamer_video", present: true });
  backend.current = session({ status: "ended", endReason: "streamer_ended" });
  backend.recordings = [recording("processing")];
  rooms[0].emit({ type: "disconnected", reason: "room_deleted" });
  await settle();
  assert.equal(machine.state().phase, "ended");
  assert.equal(
    describeWatchState(machine.state()),
    "The stream has ended. The recording is being prepared.",
  );
  backend.recordings = [recording("ready")];
  await timers.advance(10_000);
  assert.deepEqual(machine.state().recordings.map((r) => r.status), ["ready"]);
  const calls = backend.detailsCalls;
  await timers.advance(60_000);
  assert.equal(backend.detailsCalls, calls, "no more reads once every recording settled");
});

Deno.test("the streamer's video stopping on an ended session ends the view", async () => {
  const { machine, backend, rooms } = setup();
  machine.start();
  await settle();
  rooms[0].emit({ type: "streamer_video", present: true });
  backend.current = session({ status: "ended", endReason: "streamer_ended" });
  rooms[0].emit({ type: "streamer_video", present: false });
  await settle();
  assert.equal(machine.state().phase, "ended");
});

Deno.test("the poll notices an ended session even when the room said nothing", async () => {
  const { machine, backend, timers } = setup();
  machine.start();
  await settle();
  backend.current = session({ status: "ended", endReason: "room_finished" });
  await timers.advance(10_000);
  assert.equal(machine.state().phase, "ended");
});

Deno.test("offline: the view says so and rejoins with a fresh grant when back", async () => {
  const { machine, rooms, backend, network, timers } = setup();
  machine.start();
  await settle();
  network.set(false);
  rooms[0].emit({ type: "disconnected", reason: "connection_lost" });
  await timers.advance(120_000);
  assert.equal(machine.state().problem, "offline");
  assert.equal(backend.grantsIssued, 1, "no attempts while offline");
  network.set(true);
  await settle();
  assert.equal(backend.grantsIssued, 2);
  assert.deepEqual(rooms.at(-1)!.grants, ["grant-2"]);
  assert.equal(machine.state().phase, "waiting");
  await machine.stop();
});

Deno.test("starting offline waits for the network before asking for a grant", async () => {
  const { machine, backend, network } = setup();
  network.isOnline = false;
  machine.start();
  await settle();
  assert.equal(machine.state().problem, "offline");
  assert.equal(backend.grantsIssued, 0);
  network.set(true);
  await settle();
  assert.equal(backend.grantsIssued, 1);
  await machine.stop();
});

Deno.test("a rate-limited grant is retried after the server's Retry-After", async () => {
  const { machine, backend, timers } = setup();
  backend.grantError = linkError("rate_limited", 429, 7);
  machine.start();
  await settle();
  assert.equal(machine.state().problem, "rate_limited");
  assert.equal(machine.state().retryInSeconds, 7);
  backend.grantError = undefined;
  await timers.advance(6_999);
  assert.equal(backend.grantsIssued, 0);
  await timers.advance(1);
  assert.equal(backend.grantsIssued, 1);
  assert.equal(machine.state().phase, "waiting");
  await machine.stop();
});

Deno.test("stop leaves the room and cancels every timer", async () => {
  const { machine, rooms, timers } = setup();
  machine.start();
  await settle();
  await machine.stop();
  assert.ok(rooms[0].disconnected);
  assert.equal(timers.scheduled(), 0);
});
