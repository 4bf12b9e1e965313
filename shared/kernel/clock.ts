/** The source of time, injected so tests control it instead of sleeping. */
export interface Clock {
  now(): Date;
}

/** The real wall clock. */
export const systemClock: Clock = { now: () => new Date() };

/** A clock that stays where it is set, for tests and benchmarks. */
export function fixedClock(start: Date | string): Clock & { advance(seconds: number): void } {
  let current = new Date(start).getTime();
  return {
    now: () => new Date(current),
    advance(seconds: number) {
      current += seconds * 1000;
    },
  };
}
