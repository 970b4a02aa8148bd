import { startTracing } from '../telemetry/tracing.js';

/** Imported first by main.ts, so the instrumentations are in place before pg and ccxt load. */
export const tracing = startTracing('crypto-purchase-worker');
