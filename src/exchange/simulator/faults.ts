import type { Faults } from './config.js';

/** Fault injection for placing orders (POST /api/v3/order), adjustable at runtime; randomness is injected so tests are deterministic. */
export class FaultInjector {
  private faults: Faults;

  constructor(
    initial: Faults,
    private readonly random: () => number,
  ) {
    this.faults = { ...initial };
  }

  current(): Faults {
    return { ...this.faults };
  }

  update(changes: Partial<Faults>): Faults {
    this.faults = { ...this.faults, ...changes };
    return this.current();
  }

  delay(): Promise<void> {
    const ms = this.faults.latencyMs;
    return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
  }

  /** Answer 503 without executing. */
  shouldFail(): boolean {
    return this.faults.failureRate > 0 && this.random() < this.faults.failureRate;
  }

  /** Execute, then lose the response. */
  shouldDrop(): boolean {
    return this.faults.dropRate > 0 && this.random() < this.faults.dropRate;
  }
}
