import { createHmac, timingSafeEqual } from 'node:crypto';
import { errors } from './errors.js';

const DEFAULT_RECV_WINDOW = 5000;
const MAX_RECV_WINDOW = 60_000;
/** Binance refuses a request stamped more than this ahead of its clock. */
const MAX_AHEAD_MS = 1000;

export interface Credentials {
  apiKey: string;
  secret: string;
}

export interface RawRequest {
  apiKey: string | undefined;
  /** The query string exactly as sent, without the `?`. */
  query: string;
  /** The form-encoded body exactly as sent, or ''. */
  body: string;
}

export interface SignedRequest {
  params: URLSearchParams;
  timestamp: number;
  recvWindow: number;
}

/** Removes the `signature` parameter from a query or body, keeping the rest byte for byte. */
function splitSignature(text: string): { rest: string; signature: string | undefined } {
  let signature: string | undefined;
  const rest = text
    .split('&')
    .filter((part) => {
      if (!part.startsWith('signature=')) return true;
      signature ??= part.slice('signature='.length);
      return false;
    })
    .join('&');
  return { rest, signature };
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function integerParam(params: URLSearchParams, name: string): number | undefined {
  const text = params.get(name);
  if (text === null || text === '') return undefined;
  if (!/^\d{1,15}$/.test(text)) throw errors.illegalValue(name, text);
  return Number(text);
}

/**
 * Checks a SIGNED request as Binance does: the API key header, the HMAC-SHA256 signature over the
 * query string followed by the body exactly as sent, and the timestamp against the server's clock.
 */
export function verifySigned(request: RawRequest, credentials: Credentials, now: number): SignedRequest {
  if (request.apiKey === undefined || !/^[A-Za-z0-9_-]{1,128}$/.test(request.apiKey)) {
    throw errors.badApiKeyFormat();
  }
  if (!same(request.apiKey, credentials.apiKey)) throw errors.unknownApiKey();
  const query = splitSignature(request.query);
  const body = splitSignature(request.body);
  const signature = query.signature ?? body.signature;
  if (!signature) throw errors.mandatory('signature');
  const expected = createHmac('sha256', credentials.secret)
    .update(query.rest + body.rest)
    .digest('hex');
  if (!same(signature.toLowerCase(), expected)) throw errors.badSignature();

  // Parameters in the query string win over the same ones in the body, as on Binance.
  const params = new URLSearchParams(body.rest);
  for (const [name, value] of new URLSearchParams(query.rest)) params.set(name, value);
  const timestamp = integerParam(params, 'timestamp');
  if (timestamp === undefined) throw errors.mandatory('timestamp');
  const recvWindow = integerParam(params, 'recvWindow') ?? DEFAULT_RECV_WINDOW;
  if (recvWindow > MAX_RECV_WINDOW) throw errors.badRecvWindow();
  const signed = { params, timestamp, recvWindow };
  checkRecvWindow(signed, now);
  return signed;
}

/**
 * Binance checks the window when the request arrives and again when it reaches the matching engine:
 * a request that took longer than its recvWindow to get there is refused and never executes.
 */
export function checkRecvWindow(signed: SignedRequest, now: number): void {
  if (signed.timestamp > now + MAX_AHEAD_MS) throw errors.aheadOfServer();
  if (now - signed.timestamp > signed.recvWindow) throw errors.outsideRecvWindow();
}
