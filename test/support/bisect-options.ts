import type { BisectOptions } from '../../bench/ladder.js';

/** A ladder from 10/s doubling, bisected to 5 %, each deciding rate run three times, one move. */
export const bisectOptions: BisectOptions = {
  start: 10,
  factor: 2,
  max: 10_000,
  min: 1,
  tolerance: 0.05,
  repeats: 3,
  maxShifts: 1,
};
