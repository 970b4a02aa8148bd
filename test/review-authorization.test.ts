import { WorkflowUpdateFailedError } from '@temporalio/client';
import { orderWorkflowId, reviewOrderUpdate, type Review } from '../src/workflows/definitions.js';
import { ADMIN, login, newUser, startApi, type TestApi, balanceOf } from './support/api.js';

let api: TestApi;
beforeAll(async () => {
  // New accounts: orders from $20 are held for review.
  api = await startApi({ worker: true, env: { FRAUD_NEW_ACCOUNT_HOLD_TOTAL: '20.00' } });
});
afterAll(async () => api?.close());

const sql = <T>(query: string, params: unknown[] = []) => api.db.orm.em.fork().execute<T[]>(query, params);
const userId = async (username: string) =>
  Number((await sql<{ id: number }>('select id from users where username = ?', [username]))[0]!.id);
const orderRow = async (orderId: number) =>
  (
    await sql<{ state: string; reviewed_by: number | null }>(
      'select state, reviewed_by from orders where id = ?',
      [orderId],
    )
  )[0]!;

/** A fresh user with $100 whose $24 order is held; returns the user and the order id. */
async function heldOrder() {
  const user = await newUser(api);
  await api.call('PATCH', 'accounts/wallet/deposit/', { token: user.access, body: { amount: '100.00' } });
  const placed = await api.call('POST', 'orders/', {
    token: user.access,
    body: { crypto: 'ABAN', amount: 6 },
  });
  expect(placed).toMatchObject({ status: 201, body: { state: 'held' } });
  return { user, orderId: placed.body.id as number };
}

const review = (orderId: number, decision: Review['decision'], adminId: number) =>
  api.temporal.workflow
    .getHandle(orderWorkflowId(orderId))
    .executeUpdate(reviewOrderUpdate, { args: [{ decision, adminId }] });

it('the review update refuses a reviewer who is not an admin in Postgres; an admin works', async () => {
  const { user, orderId } = await heldOrder();
  const buyer = await userId(user.username);
  const otherUser = await userId((await newUser(api)).username);
  const claimed: [Review['decision'], number][] = [
    ['approve', buyer],
    ['reject', buyer],
    ['approve', otherUser],
    ['approve', 999_999],
    ['reject', 2 ** 40],
    ['approve', -1],
  ];
  for (const [decision, adminId] of claimed) {
    const error = await review(orderId, decision, adminId).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(WorkflowUpdateFailedError);
    expect((error as WorkflowUpdateFailedError).cause).toMatchObject({
      type: 'reviewer_not_admin',
      nonRetryable: true,
    });
    expect(await orderRow(orderId)).toEqual({ state: 'held', reviewed_by: null });
    expect(await balanceOf(api, user.access)).toBe('76.00');
  }
  const refused = await sql<{ admin_id: number | null; details: Record<string, unknown> }>(
    "select admin_id, details from admin_actions where action = 'review_refused' and subject = ? order by id",
    [`order:${orderId}`],
  );
  expect(refused).toEqual(
    claimed.map(([decision, adminId]) => ({
      admin_id: null,
      details: {
        decision,
        reviewer_id: adminId,
        reason: [buyer, otherUser].includes(adminId) ? 'not an admin' : 'no such user',
      },
    })),
  );

  // A malformed review (no reviewer would look like the review timeout) is refused outright.
  for (const malformed of [
    { decision: 'reject', adminId: null },
    { decision: 'reject' },
    { decision: 'cancel', adminId: 1 },
    { decision: 'reject', adminId: 1.5 },
  ]) {
    await expect(
      api.temporal.workflow
        .getHandle(orderWorkflowId(orderId))
        .executeUpdate(reviewOrderUpdate, { args: [malformed as unknown as Review] }),
    ).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
    expect(await orderRow(orderId)).toEqual({ state: 'held', reviewed_by: null });
  }
  expect(await balanceOf(api, user.access)).toBe('76.00');

  const adminId = await userId(ADMIN.username);
  const approved = await review(orderId, 'approve', adminId);
  expect(['pending', 'completed']).toContain(approved.state);
  expect((await orderRow(orderId)).reviewed_by).toBe(adminId);
  const approvals = await sql<{ admin_id: number }>(
    "select admin_id from admin_actions where action = 'approve_order' and subject = ?",
    [`order:${orderId}`],
  );
  expect(approvals).toEqual([{ admin_id: adminId }]);
});

it('an admin demoted after login is refused by the review (403); the order stays held', async () => {
  const { user, orderId } = await heldOrder();
  const former = await newUser(api, 'former');
  await sql("update users set role = 'admin' where username = ?", [former.username]);
  const token = await login(api, former.username, 'correct horse battery');
  await sql("update users set role = 'user' where username = ?", [former.username]);

  const res = await api.call('POST', `admin/orders/${orderId}/reject/`, { token });
  expect(res).toMatchObject({ status: 403, body: { error: { code: 'forbidden' } } });
  expect((await orderRow(orderId)).state).toBe('held');
  expect(await balanceOf(api, user.access)).toBe('76.00');

  // A real admin can still decide.
  const admin = await login(api, ADMIN.username, ADMIN.password);
  const rejected = await api.call('POST', `admin/orders/${orderId}/reject/`, { token: admin });
  expect(rejected).toMatchObject({ status: 200, body: { state: 'failed' } });
  expect(await balanceOf(api, user.access)).toBe('100.00');
});

// Last in this file: it changes the orders table to hold a value the code cannot read.
it('an approved order whose row cannot be read back is refunded, not retried forever', async () => {
  const { user, orderId } = await heldOrder();
  await sql('alter table orders drop constraint orders_amount_check');
  await sql('alter table orders alter column amount type text');
  await sql("update orders set amount = 'corrupt' where id = ?", [orderId]);

  const error = await review(orderId, 'approve', await userId(ADMIN.username)).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect((error as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'UnexpectedData' });
  const result = await api.temporal.workflow.getHandle(orderWorkflowId(orderId)).result();
  expect(result).toMatchObject({ state: 'failed' });
  expect(result.reason).toContain('not a 8-place decimal: corrupt');
  expect((await orderRow(orderId)).state).toBe('failed');
  expect(await balanceOf(api, user.access)).toBe('100.00');
});
