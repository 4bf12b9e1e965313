import assert from "node:assert/strict";
import { compare, measure, type Measurement, percentile } from "../../dev/bench.ts";
import { cpuPerRequest, parentOf, ticksOf } from "../../dev/bench_cpu.ts";

Deno.test("percentile takes the nearest rank of sorted values", () => {
  const values = Array.from({ length: 100 }, (_, index) => index + 1);
  assert.equal(percentile(values, 0.5), 50);
  assert.equal(percentile(values, 0.99), 99);
  assert.equal(percentile([7], 0.99), 7);
  assert.ok(Number.isNaN(percentile([], 0.5)));
});

Deno.test("compare gives each figure as a ratio of the baseline's", () => {
  const baseline: Measurement = {
    name: "baseline",
    requests: 1000,
    errors: 0,
    p50Ms: 2,
    p99Ms: 10,
    requestsPerSecond: 1000,
  };
  const result = compare(
    { ...baseline, name: "health", p50Ms: 3, p99Ms: 25, requestsPerSecond: 400 },
    baseline,
  );
  assert.deepEqual(
    [result.p50Ratio, result.p99Ratio, result.rateRatio],
    [1.5, 2.5, 0.4],
  );
});

Deno.test("measure counts the requests of the window and the failed ones", async () => {
  let served = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
    served++;
    return new Response(null, { status: served % 2 === 0 ? 500 : 200 });
  });
  try {
    const url = `http://127.0.0.1:${server.addr.port}/`;
    const result = await measure(
      { name: "alternating", request: () => new Request(url), expectStatus: [200] },
      { concurrency: 1, durationMs: 300, warmupMs: 50 },
    );
    assert.ok(result.requests > 0);
    assert.ok(result.requests <= served);
    assert.ok(Math.abs(result.errors - result.requests / 2) <= 1, JSON.stringify(result));
    assert.ok(result.p50Ms <= result.p99Ms);
    assert.equal(result.requestsPerSecond, Math.round(result.requests / 0.3 * 100) / 100);
  } finally {
    await server.shutdown();
  }
});

Deno.test("CPU ticks are read after the command name, which may hold spaces and parentheses", () => {
  // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime
  // stime cutime cstime ...
  const stat = "4242 (V8 (worker) x) S 1 2 3 0 -1 4194304 10 0 0 0 250 50 7 3 20 0 9 0";
  assert.equal(ticksOf(stat), 300);
  assert.equal(ticksOf(stat, true), 310);
  assert.equal(parentOf(stat), 1);
});

Deno.test("CPU per request is the difference of two samples over the requests", () => {
  const from = { self: 10, postgres: 4, children: 1 };
  const to = { self: 12.5, postgres: 5, children: 1.5 };
  assert.deepEqual(cpuPerRequest(from, to, 1000), {
    functionsMs: 2.5,
    postgresMs: 1,
    childrenMs: 0.5,
  });
  assert.equal(cpuPerRequest(undefined, to, 1000), undefined);
  assert.equal(cpuPerRequest(from, to, 0), undefined);
});
