import { ApplicationFailure } from '@temporalio/activity';
import { orderWorkflow } from '../src/workflows/index.js';
import { orderWorkflowId } from '../src/workflows/definitions.js';
import { permanentFailures } from '../src/activities/errors.js';
import { readUsd } from '../src/domain/money.js';
import { newUser, startApi, type TestApi } from './support/api.js';

let api: TestApi;
beforeAll(async () => {
  api = await startApi({ worker: true });
});
afterAll(async () => api?.close());

const sql = <T>(query: string, params: unknown[] = []) => api.db.orm.em.fork().execute<T[]>(query, params);
const userId = async (username: string) =>
  Number((await sql<{ id: number }>('select id from users where username = ?', [username]))[0]!.id);

/** Removes an account that has no ledger entries: its tokens, its wallet, its row. */
async function deleteAccount(id: number, { keepUser = false } = {}) {
  await sql('delete from refresh_tokens where user_id = ?', [id]);
  await sql('delete from wallets where user_id = ?', [id]);
  if (!keepUser) await sql('delete from users where id = ?', [id]);
}
const ordersOf = async (id: number) =>
  Number((await sql<{ n: string }>('select count(*) as n from orders where user_id = ?', [id]))[0]!.n);

it('an order by an account deleted after its token was issued is refused at once (401)', async () => {
  const user = await newUser(api);
  const id = await userId(user.username);
  await deleteAccount(id);
  const started = Date.now();
  const res = await api.call('POST', 'orders/', { token: user.access, body: { crypto: 'ABAN', amount: 3 } });
  expect(res.status).toBe(401);
  expect(Date.now() - started).toBeLessThan(10_000);
  expect(await ordersOf(id)).toBe(0);
  // With an Idempotency-Key too (the key is stored per user before the debit).
  const keyed = await api.call('POST', 'orders/', {
    token: user.access,
    body: { crypto: 'ABAN', amount: 3 },
    headers: { 'idempotency-key': 'deleted-account-1' },
  });
  expect(keyed.status).toBe(401);
});

it('the debit activity refuses a deleted user without retrying: the workflow ends rejected', async () => {
  const user = await newUser(api);
  const id = await userId(user.username);
  await deleteAccount(id);
  const [row] = await sql<{ id: string }>("select nextval('orders_id_seq') as id");
  const orderId = Number(row!.id);
  const handle = await api.temporal.workflow.start(orderWorkflow, {
    args: [{ orderId, userId: id, crypto: 'ABAN', amount: '3.00000000' }],
    workflowId: orderWorkflowId(orderId),
    taskQueue: api.env.TEMPORAL_TASK_QUEUE,
  });
  let timer: NodeJS.Timeout | undefined;
  const result = await Promise.race([
    handle.result(),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error('the debit is still retrying')), 15_000);
    }),
  ]).finally(() => clearTimeout(timer));
  expect(result).toEqual({ orderId, state: 'rejected', reason: 'the account no longer exists' });
  // One attempt of the debit (a local activity: its marker records the attempt), refused for good.
  const history = await handle.fetchHistory();
  const markers = (history.events ?? []).flatMap((e) =>
    e.markerRecordedEventAttributes?.markerName === 'core_local_activity'
      ? [e.markerRecordedEventAttributes]
      : [],
  );
  const marked = markers.map((m) => {
    const data = JSON.parse(Buffer.from(m.details!.data!.payloads![0]!.data!).toString());
    return { type: data.activity_type, attempt: data.attempt, failed: m.failure != null };
  });
  expect(marked).toEqual([{ type: 'debitOrder', attempt: 1, failed: true }]);
  expect(await ordersOf(id)).toBe(0);
});

it('a user whose wallet is gone gets 422 wallet_not_found, and nothing is written', async () => {
  const user = await newUser(api);
  const id = await userId(user.username);
  await deleteAccount(id, { keepUser: true });
  const res = await api.call('POST', 'orders/', { token: user.access, body: { crypto: 'ABAN', amount: 3 } });
  expect(res).toMatchObject({ status: 422, body: { error: { code: 'wallet_not_found' } } });
  expect(await ordersOf(id)).toBe(0);
});

it('data an activity cannot parse is a non-retryable failure, not an endless retry', async () => {
  const error = await permanentFailures(async () => readUsd(null as unknown as string)).catch(
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApplicationFailure);
  expect(error).toMatchObject({ type: 'UnexpectedData', nonRetryable: true });
  expect((error as Error).message).toContain('not a 2-place decimal: null');
});
