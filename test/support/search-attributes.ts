import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { SEARCH_ATTRIBUTES } from '../../src/workflows/visibility.js';

/** temporal.api.enums.v1.IndexedValueType of the types the workflows use. */
const INDEXED_VALUE_TYPES: Record<(typeof SEARCH_ATTRIBUTES)[number]['type'], number> = {
  KEYWORD: 2,
  INT: 3,
};

/**
 * Registers the workflows' search attributes with a time-skipping test server, which, like a real
 * one, fails a workflow task that sets an attribute it does not know (the dev server gets them as
 * start-up flags, tools/temporal-dev-server.ts).
 */
export async function registerSearchAttributes(env: TestWorkflowEnvironment): Promise<void> {
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(
      SEARCH_ATTRIBUTES.map((key) => [key.name, INDEXED_VALUE_TYPES[key.type]]),
    ),
  });
}
