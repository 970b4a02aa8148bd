import type { FastifyInstance } from 'fastify';
import { Client, Connection } from '@temporalio/client';
import { buildApp } from '../../src/api/app.js';
import { loadEnv, type Env } from '../../src/config/env.js';
import { seed } from '../../src/services/seed.js';
import { createTestDatabase, type TestDatabase } from './db.js';

export const ADMIN = { username: 'admin', password: 'admin-test-password' };

export interface TestApi {
  url: string;
  env: Env;
  db: TestDatabase;
  app: FastifyInstance;
  temporal: Client;
  call(
    method: string,
    path: string,
    options?: { token?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<{ status: number; body: any; headers: Headers }>;
  close(): Promise<void>;
}

export function testEnv(overrides: Record<string, string> = {}): Env {
  return loadEnv({
    APP_ENV: 'test',
    LOG_LEVEL: 'silent',
    TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS,
    TEMPORAL_TASK_QUEUE: `test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
    ADMIN_PASSWORD: ADMIN.password,
    ...overrides,
  });
}

/** The real API on a random port, over a fresh seeded database and the run's Temporal dev server. */
export async function startApi(overrides: Record<string, string> = {}): Promise<TestApi> {
  const db = await createTestDatabase();
  const env = testEnv({ DATABASE_URL: db.url, ...overrides });
  await seed(db.orm.em.fork(), { username: ADMIN.username, password: ADMIN.password });
  const connection = await Connection.connect({ address: env.TEMPORAL_ADDRESS });
  const temporal = new Client({ connection, namespace: env.TEMPORAL_NAMESPACE });
  const app = await buildApp({ env, orm: db.orm, temporal });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `${address}/api/v1`;
  return {
    url,
    env,
    db,
    app,
    temporal,
    async call(method, path, { token, body, headers = {} } = {}) {
      const response = await fetch(
        path.startsWith('/') && !path.startsWith('/api')
          ? `${address}${path}`
          : `${url}/${path.replace(/^\//, '')}`,
        {
          method,
          headers: {
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
            ...(token ? { authorization: `Bearer ${token}` } : {}),
            ...headers,
          },
          body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
        },
      );
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON (docs pages)
      }
      return { status: response.status, body: parsed, headers: response.headers };
    },
    async close() {
      await app.close();
      await connection.close();
      await db.drop();
    },
  };
}

let counter = 0;
/** Registers a fresh user and returns its tokens. */
export async function newUser(
  api: TestApi,
  prefix = 'user',
): Promise<{ username: string; access: string; refresh: string }> {
  const username = `${prefix}${process.pid}x${++counter}`;
  const res = await api.call('POST', 'accounts/auth/register/', {
    body: { username, password: 'correct horse battery' },
  });
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { username, ...res.body };
}

export async function login(api: TestApi, username: string, password: string): Promise<string> {
  const res = await api.call('POST', 'accounts/auth/login/', { body: { username, password } });
  if (res.status !== 200) throw new Error(`login failed: ${res.status}`);
  return res.body.access;
}
