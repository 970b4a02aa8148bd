import { z } from 'zod';
import { parseUsd } from '../domain/money.js';

/** The largest USD amount a setting may hold: far above any real threshold or limit. */
const MAX_USD_SETTING = 10n ** 15n;

/**
 * A USD setting such as `"10.00"`, parsed exactly into cents by the money module; a bad value is
 * reported with the text that was given, so a start-up error names what to fix.
 */
export const usdSetting = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const parsed = parseUsd(text, { max: MAX_USD_SETTING });
      if (!parsed.ok) {
        ctx.addIssue({ code: 'custom', message: `"${text}" ${parsed.message}` });
        return z.NEVER;
      }
      return parsed.value;
    });
