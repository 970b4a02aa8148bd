/**
 * Child process: the load generator (see bench/load.ts). Open-loop runs issue request i at
 * t0 + i/rate whether or not earlier ones have answered, and measure each latency from that scheduled
 * time, so a stalled server shows up as latency instead of as fewer requests (no coordinated
 * omission). Saturation runs use autocannon (closed loop, many connections).
 */
import http from 'node:http';
import autocannon from 'autocannon';
import type { LoadCommand, OpenLoopCommand, SaturateCommand, SaturateResult } from './load.js';
import { percentile, type OpenLoopResult, type Sample } from './stats.js';

const agent = new http.Agent({ keepAlive: true, maxSockets: 4096, maxFreeSockets: 1024 });
const now = () => performance.timeOrigin + performance.now();
let sequence = 0;

interface Answer {
  status: number;
  id?: number;
}

function call(
  origin: URL,
  spec: OpenLoopCommand['specs'][number],
  timeoutMs: number,
  collectId: boolean,
): Promise<Answer> {
  return new Promise<Answer>((resolve) => {
    const body = spec.body === undefined ? undefined : Buffer.from(spec.body);
    const req = http.request(
      {
        host: origin.hostname,
        port: origin.port,
        method: spec.method,
        path: spec.path.replaceAll('{n}', String(++sequence)),
        agent,
        headers: {
          ...(body ? { 'content-type': 'application/json', 'content-length': String(body.length) } : {}),
          ...spec.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => collectId && chunks.push(chunk));
        res.once('error', () => resolve({ status: 0 }));
        res.once('end', () => {
          const answer: Answer = { status: res.statusCode ?? 0 };
          if (collectId && chunks.length) {
            try {
              const parsed = JSON.parse(Buffer.concat(chunks).toString()) as { id?: unknown };
              if (typeof parsed.id === 'number') answer.id = parsed.id;
            } catch {
              // not JSON: the status says enough
            }
          }
          resolve(answer);
        });
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    req.once('error', () => resolve({ status: 0 }));
    req.end(body);
  });
}

async function openLoop(command: OpenLoopCommand): Promise<OpenLoopResult> {
  const origin = new URL(command.origin);
  const count = Math.max(1, Math.round(command.rate * command.seconds));
  const interval = 1000 / command.rate;
  const t0 = now() + 20;
  const samples: Sample[] = new Array<Sample>(count);
  const lags: number[] = [];
  const inFlight: Promise<void>[] = [];
  let next = 0;

  const fire = (i: number) => {
    const at = t0 + i * interval;
    lags.push(now() - at);
    const spec = command.specs[i % command.specs.length]!;
    inFlight.push(
      call(origin, spec, command.timeoutMs, command.collectId ?? false).then((answer) => {
        samples[i] = {
          at,
          latency: now() - at,
          status: answer.status,
          ...(answer.id ? { id: answer.id } : {}),
        };
      }),
    );
  };

  await new Promise<void>((done) => {
    const tick = () => {
      const t = now();
      while (next < count && t0 + next * interval <= t) fire(next++);
      if (next >= count) return done();
      setTimeout(tick, Math.max(0, t0 + next * interval - now() - 0.5));
    };
    setTimeout(tick, 20);
  });
  await Promise.all(inFlight);
  return {
    rate: command.rate,
    seconds: command.seconds,
    samples: samples.map((s) => ({
      ...s,
      at: Number(s.at.toFixed(2)),
      latency: Number(s.latency.toFixed(2)),
    })),
    sendLagP99: percentile(
      lags.sort((a, b) => a - b),
      99,
    ),
  };
}

async function saturate(command: SaturateCommand): Promise<SaturateResult> {
  const result = await autocannon({
    url: command.url,
    connections: command.connections,
    duration: command.seconds,
  });
  return {
    requestsPerSecond: result.requests.average,
    total: result.requests.total,
    latencyP50: result.latency.p50,
    latencyP99: result.latency.p99,
    errors: result.errors,
    non2xx: result.non2xx,
    connections: result.connections,
  };
}

const run = (command: LoadCommand) => (command.kind === 'open' ? openLoop(command) : saturate(command));

process.on('message', (message: { id: number; command: LoadCommand }) => {
  run(message.command).then(
    (result) => process.send?.({ id: message.id, ok: true, result }),
    (error: unknown) =>
      process.send?.({
        id: message.id,
        ok: false,
        error: error instanceof Error ? error.message : String(error),
      }),
  );
});
process.on('disconnect', () => process.exit(0));
process.send?.('ready');
