import type { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../../src/workflows/visibility.js';
import { INDEXED_VALUE_TYPES } from '../../src/worker/search-attributes.js';

/**
 * Registers the workflows' search attributes in a namespace, e.g. of a time-skipping test server,
 * which, like a real one, fails a workflow task that sets an attribute it does not know (the dev
 * server gets them as start-up flags, tools/temporal-dev-server.ts).
 */
export async function registerSearchAttributes(
  connection: Pick<Connection, 'operatorService'>,
  namespace: string,
): Promise<void> {
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(
      SEARCH_ATTRIBUTES.map((key) => [key.name, INDEXED_VALUE_TYPES[key.type]]),
    ),
  });
}
