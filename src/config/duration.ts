import ms from 'ms';

/**
 * Milliseconds from a duration `ms` reads ("250ms", "30s", "15m", "1.5h", "7d", "2 days") or a bare
 * number of milliseconds; undefined for anything else, and for a negative or fractional result.
 */
export function parseDuration(text: string): number | undefined {
  let value: number;
  try {
    value = ms(text.trim() as ms.StringValue);
  } catch {
    return undefined; // an empty string
  }
  return Number.isSafeInteger(value) && value >= 0 ? value + 0 : undefined; // + 0 turns -0 into 0
}
