import TestSequencer from '@jest/test-sequencer';

/**
 * Suites that start a whole stack of their own (a Temporal server, a Postgres, several API and
 * worker processes) and load it. Two of them at once on a two-core machine starve each other until
 * orders time out; Jest's default order (slowest first, from the last run's durations) would start
 * them together.
 */
const STACK_SUITES = ['chaos-multiproc.test.ts', 'chaos.test.ts'];

const isStackSuite = (test) => STACK_SUITES.some((name) => test.path.endsWith(`/${name}`));

/** Jest's default order, except that the stack suites are spread apart: the first where it falls, the rest last. */
export default class StackSuitesApart extends TestSequencer {
  async sort(tests) {
    const sorted = await super.sort(tests);
    const stacks = sorted.filter(isStackSuite);
    if (stacks.length < 2) return sorted;
    const [first, ...rest] = stacks;
    const others = sorted.filter((test) => !isStackSuite(test) || test === first);
    return [...others, ...rest];
  }
}
