import type { SimulatorConfig } from './config.js';
import type { FaultInjector } from './faults.js';
import type { SimulatorState } from './state.js';

/** What every group of simulator routes works on. */
export interface SimulatorContext {
  config: SimulatorConfig;
  state: SimulatorState;
  faults: FaultInjector;
}
