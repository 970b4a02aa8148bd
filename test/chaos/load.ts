/**
 * The fault suite's load: users registered and funded through the API up front, then orders at a
 * fixed rate, a mix of ≥ $10 (bought alone) and small (pooled) ones across ABAN and ETH. Each
 * logical order has its own Idempotency-Key and is retried with it on network errors, timeouts and
 * 5xx until it gets a final answer, so a retried POST can never create a second order. With several
 * APIs the attempts go round robin: order n's first attempt to API n mod N, each retry to the next
 * one (as a load balancer would, so an API that is down only costs a retry).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { seededRandom } from '../../tools/seeded-random.js';

export interface LoadOptions {
  /** One API's base URL, or several to spread the requests over. */
  apiUrl: string | string[];
  /** Users placing orders; `poorUsers` more get only a few dollars, so some orders are refused. */
  users: number;
  poorUsers?: number;
  /** Each user's deposit, USD string. */
  deposit: string;
  ratePerSecond: number;
  /** One attempt's limit: an answer held up by a killed worker is retried after this. */
  attemptTimeoutMs?: number;
  /** A logical order still without a final answer after this long is left unresolved. */
  giveUpAfterMs?: number;
  /** At most this many logical orders in flight; the generator waits while there are more. */
  maxInFlight?: number;
  /** PRNG seed: the same seed gives the same sequence of orders. */
  seed?: number;
  /** Tags the usernames and keys (unique per run). */
  runId: string;
}

export interface LoadUser {
  username: string;
  id: number;
  access: string;
  deposit: string;
}

export interface LogicalOrder {
  seq: number;
  key: string;
  username: string;
  userId: number;
  crypto: 'ABAN' | 'ETH';
  amount: string;
  /** The total the order must cost at the seeded prices. */
  expectedTotal: string;
  attempts: number;
  /** Why earlier attempts were retried (status or error name), in order. */
  retried: string[];
  outcome: 'in-flight' | 'placed' | 'refused' | 'unresolved';
  status?: number;
  /** 201: the order as the API answered it. */
  order?: { id: number; state: string; total_price: string };
  /** Which API (index into the URLs) gave the final answer. */
  answeredBy?: number;
  /** 4xx: the error code. */
  code?: string;
  startedAt: number;
  settledAt?: number;
}

/** The order mix: totals at the seeded prices (ABAN 4.00, ETH 3000.00). */
const MIX: { crypto: 'ABAN' | 'ETH'; amount: string; total: string; weight: number }[] = [
  { crypto: 'ABAN', amount: '3', total: '12.00', weight: 2 }, // alone
  { crypto: 'ETH', amount: '0.005', total: '15.00', weight: 2 }, // alone
  { crypto: 'ABAN', amount: '0.5', total: '2.00', weight: 3 }, // pooled
  { crypto: 'ABAN', amount: '0.75', total: '3.00', weight: 1 }, // pooled
  { crypto: 'ETH', amount: '0.001', total: '3.00', weight: 3 }, // pooled
];
const WEIGHTS = MIX.reduce((a, m) => a + m.weight, 0);

type Answer = { status: number; body: any } | { error: string };

async function attempt(
  url: string,
  init: { method: string; token?: string; body?: unknown; headers?: Record<string, string> },
  timeoutMs: number,
  abort?: AbortSignal,
): Promise<Answer> {
  try {
    const response = await fetch(url, {
      method: init.method,
      headers: {
        ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
        ...init.headers,
      },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      signal: abort
        ? AbortSignal.any([abort, AbortSignal.timeout(timeoutMs)])
        : AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    return { status: response.status, body };
  } catch (error) {
    const e = error as { name?: string; cause?: { code?: string } };
    return { error: e.cause?.code ?? e.name ?? 'error' };
  }
}

/** 202 (the order is `placing`) is not final either: a retry with the same key joins the same order. */
const retryable = (a: Answer) => 'error' in a || a.status >= 500 || a.status === 429 || a.status === 202;

/**
 * Sends until the answer is final (201, 200 or a 4xx other than 429), `giveUpAfterMs` passes or
 * `abort` fires (the caller abandons the request).
 */
async function untilFinal(
  url: (attempt: number) => { url: string; api: number },
  init: Parameters<typeof attempt>[1],
  opts: { timeoutMs: number; giveUpAfterMs: number; onRetry?: (why: string) => void; abort?: AbortSignal },
): Promise<Answer & { attempts: number; api: number }> {
  const deadline = Date.now() + opts.giveUpAfterMs;
  for (let attempts = 1; ; attempts++) {
    const target = url(attempts);
    const answer = await attempt(target.url, init, opts.timeoutMs, opts.abort);
    if (!retryable(answer) || Date.now() > deadline || opts.abort?.aborted)
      return { ...answer, attempts, api: target.api };
    opts.onRetry?.('error' in answer ? answer.error : String(answer.status));
    await sleep(Math.min(250 * 2 ** Math.min(attempts - 1, 4), 3_000) * (0.5 + Math.random()));
  }
}

export class LoadGenerator {
  readonly users: LoadUser[] = [];
  readonly orders: LogicalOrder[] = [];
  private readonly random: () => number;
  private readonly inFlight = new Set<Promise<void>>();
  private running: Promise<void> | undefined;
  private stopping = false;
  private readonly abandon = new AbortController();
  private readonly timeoutMs: number;
  private readonly giveUpAfterMs: number;

  constructor(private readonly options: LoadOptions) {
    this.random = seededRandom(options.seed ?? 42);
    this.apiUrls = [options.apiUrl].flat();
    this.timeoutMs = options.attemptTimeoutMs ?? 30_000;
    this.giveUpAfterMs = options.giveUpAfterMs ?? 150_000;
  }

  private readonly apiUrls: string[];

  /** The URL of `path` for an order's (or user's) `n`th attempt: round robin over the APIs. */
  private url(path: string, n: number) {
    return (attempt: number) => {
      const api = (n + attempt - 1) % this.apiUrls.length;
      return { url: `${this.apiUrls[api]}/${path}`, api };
    };
  }

  /** Registers and funds every user through the API (retried, so it survives a flaky start). */
  async fund(): Promise<void> {
    const { users, poorUsers = 0, runId, deposit } = this.options;
    const opts = { timeoutMs: this.timeoutMs, giveUpAfterMs: 60_000 };
    const one = async (i: number) => {
      const username = `chaos${runId}u${i}`;
      const password = 'chaos horse battery staple';
      let answer = await untilFinal(
        this.url('accounts/auth/register/', i),
        { method: 'POST', body: { username, password } },
        opts,
      );
      // A register whose answer was lost, then retried: the account exists, log in instead.
      if (!('error' in answer) && answer.status === 409) {
        answer = await untilFinal(
          this.url('accounts/auth/login/', i),
          { method: 'POST', body: { username, password } },
          opts,
        );
      }
      if ('error' in answer || answer.status >= 300) {
        throw new Error(`register ${username}: ${JSON.stringify(answer)}`);
      }
      const access: string = answer.body.access;
      const amount = i < users ? deposit : '7.00';
      const funded = await untilFinal(
        this.url('accounts/wallet/deposit/', i),
        {
          method: 'PATCH',
          token: access,
          body: { amount },
          headers: { 'idempotency-key': `fund-${username}` },
        },
        opts,
      );
      if ('error' in funded || funded.status !== 200) {
        throw new Error(`deposit ${username}: ${JSON.stringify(funded)}`);
      }
      const me = JSON.parse(Buffer.from(access.split('.')[1]!, 'base64url').toString()) as { sub: string };
      this.users[i] = { username, id: Number(me.sub), access, deposit: amount };
    };
    // Registration hashes passwords (argon2): a few at a time on a small machine.
    const all = Array.from({ length: users + poorUsers }, (_, i) => i);
    for (let i = 0; i < all.length; i += 4) await Promise.all(all.slice(i, i + 4).map(one));
  }

  /** Starts placing orders at the configured rate until `stop()`. */
  start(): void {
    if (this.running) return;
    if (this.users.length === 0) throw new Error('fund() first');
    const interval = 1_000 / this.options.ratePerSecond;
    const maxInFlight = this.options.maxInFlight ?? 150;
    this.running = (async () => {
      let next = Date.now();
      while (!this.stopping) {
        if (this.inFlight.size < maxInFlight) this.placeNext();
        next += interval;
        const wait = next - Date.now();
        if (wait > 0) await sleep(wait);
        else next = Date.now(); // fell behind (a stalled event loop): do not burst to catch up
      }
    })();
  }

  private placeNext(): void {
    const user = this.users[Math.floor(this.random() * this.users.length)]!;
    let pick = this.random() * WEIGHTS;
    const choice = MIX.find((m) => (pick -= m.weight) < 0) ?? MIX[0]!;
    const seq = this.orders.length + 1;
    const order: LogicalOrder = {
      seq,
      key: `chaos-${this.options.runId}-${seq}`,
      username: user.username,
      userId: user.id,
      crypto: choice.crypto,
      amount: choice.amount,
      expectedTotal: choice.total,
      attempts: 0,
      retried: [],
      outcome: 'in-flight',
      startedAt: Date.now(),
    };
    this.orders.push(order);
    const task = this.place(order, user).finally(() => this.inFlight.delete(task));
    this.inFlight.add(task);
  }

  private async place(order: LogicalOrder, user: LoadUser): Promise<void> {
    const answer = await untilFinal(
      this.url('orders/', order.seq),
      {
        method: 'POST',
        token: user.access,
        body: { crypto: order.crypto, amount: order.amount },
        headers: { 'idempotency-key': order.key },
      },
      {
        timeoutMs: this.timeoutMs,
        giveUpAfterMs: this.giveUpAfterMs,
        onRetry: (why) => order.retried.push(why),
        abort: this.abandon.signal,
      },
    );
    order.attempts = answer.attempts;
    order.answeredBy = answer.api;
    order.settledAt = Date.now();
    if ('error' in answer || retryable(answer)) {
      order.outcome = 'unresolved';
      if (!('error' in answer)) order.status = answer.status;
      return;
    }
    order.status = answer.status;
    if (answer.status === 201) {
      order.outcome = 'placed';
      order.order = { id: answer.body.id, state: answer.body.state, total_price: answer.body.total_price };
    } else {
      order.outcome = 'refused';
      order.code = answer.body?.error?.code ?? String(answer.status);
    }
  }

  /**
   * Stops placing new orders and waits for every logical order in flight to get its final answer;
   * after `abandonAfterMs` the ones still waiting are abandoned (left `unresolved`).
   */
  async stop({ abandonAfterMs }: { abandonAfterMs?: number } = {}): Promise<void> {
    this.stopping = true;
    await this.running;
    const all = Promise.all([...this.inFlight]);
    if (abandonAfterMs === undefined) {
      await all;
      return;
    }
    const timer = setTimeout(() => this.abandon.abort(), abandonAfterMs);
    await all;
    clearTimeout(timer);
  }

  inFlightCount(): number {
    return this.inFlight.size;
  }

  stats() {
    const count = (o: LogicalOrder['outcome']) => this.orders.filter((x) => x.outcome === o).length;
    const refusals: Record<string, number> = {};
    for (const o of this.orders) if (o.code) refusals[o.code] = (refusals[o.code] ?? 0) + 1;
    const retriedOrders = this.orders.filter((o) => o.retried.length > 0).length;
    const why: Record<string, number> = {};
    for (const o of this.orders) for (const r of o.retried) why[r] = (why[r] ?? 0) + 1;
    const byApi = this.apiUrls.map((_, i) => this.orders.filter((o) => o.answeredBy === i).length);
    return {
      logical: this.orders.length,
      placed: count('placed'),
      refused: count('refused'),
      unresolved: count('unresolved'),
      inFlight: count('in-flight'),
      refusals,
      retriedOrders,
      retries: why,
      /** Final answers per API. */
      byApi,
    };
  }
}
