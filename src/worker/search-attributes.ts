import type { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../workflows/visibility.js';

/** temporal.api.enums.v1.IndexedValueType of the types the workflows use. */
export const INDEXED_VALUE_TYPES: Record<(typeof SEARCH_ATTRIBUTES)[number]['type'], number> = {
  KEYWORD: 2,
  INT: 3,
};

/** The workflows' search attributes the namespace lacks or has under another type ("OrderState (Keyword)"). */
export async function missingSearchAttributes(
  connection: Pick<Connection, 'operatorService'>,
  namespace: string,
): Promise<string[]> {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  return SEARCH_ATTRIBUTES.filter(
    (key) => Number(customAttributes?.[key.name]) !== INDEXED_VALUE_TYPES[key.type],
  ).map((key) => `${key.name} (${key.type.toLowerCase()})`);
}

/**
 * Refuses to start the worker on a namespace without the workflows' search attributes: Temporal
 * would refuse every order's start and fail every order workflow's task. A server that does not let
 * the worker list them (a permission) only earns a warning.
 */
export async function requireSearchAttributes(
  connection: Pick<Connection, 'operatorService'>,
  namespace: string,
  logger: { warn(message: string, meta?: Record<string, unknown>): void },
): Promise<void> {
  let missing: string[];
  try {
    missing = await missingSearchAttributes(connection, namespace);
  } catch (error) {
    logger.warn('could not list the namespace search attributes; orders need them registered', {
      namespace,
      error: String(error),
    });
    return;
  }
  if (missing.length > 0) {
    throw new Error(
      `the Temporal namespace "${namespace}" lacks the search attributes ${missing.join(', ')}: ` +
        'register them first (README, Finding orders in Temporal)',
    );
  }
}
