import { reconcile } from '../src/services/ledger.js';
import { balanceOf, eventually, fundedUser, startApi, type TestApi } from './support/api.js';

// Placement is one update-with-start call whose first workflow task debits as a local activity: a
// refusal ends the workflow in the same task that answers the update. Under a burst of concurrent
// orders, half of which each wallet cannot pay, every refusal must still reach its caller as 422,
// never a 202, a 5xx or a charge.
let api: TestApi;
beforeAll(async () => {
  api = await startApi({
    worker: true,
    // The answer under test is the debit's own, however long the burst makes it wait.
    env: { RATE_LIMIT_ENABLED: 'false', FRAUD_ENABLED: 'false', PLACEMENT_TIMEOUT: '60s' },
  });
});
afterAll(() => api?.close());

const USERS = 15;
const ORDERS_PER_USER = 4;

it('answers every refusal of a burst with 422 and charges only the orders it placed', async () => {
  // $30 pays for two $12 orders: of each user's four, two are placed and two refused.
  const users = await Promise.all(Array.from({ length: USERS }, () => fundedUser(api, '30.00')));
  const answers = await Promise.all(
    users.flatMap((user) =>
      Array.from({ length: ORDERS_PER_USER }, () =>
        api
          .call('POST', 'orders/', { token: user.access, body: { crypto: 'ABAN', amount: '3' } })
          .then((answer) => ({ user, answer })),
      ),
    ),
  );

  expect(answers.map(({ answer }) => answer.status).filter((s) => s !== 201 && s !== 422)).toEqual([]);
  for (const user of users) {
    const mine = answers.filter((a) => a.user === user).map((a) => a.answer);
    expect(mine.filter((a) => a.status === 201)).toHaveLength(2);
    const refused = mine.filter((a) => a.status === 422);
    expect(refused).toHaveLength(2);
    for (const r of refused) expect(r.body.error.code).toBe('insufficient_funds');
    expect(await balanceOf(api, user.access)).toBe('6.00');
  }

  // The refused orders stay visible as rejected; the placed ones are bought.
  const placed = answers.filter(({ answer }) => answer.status === 201);
  for (const { user, answer } of placed) {
    await eventually(
      () => api.call('GET', `orders/${answer.body.id}/`, { token: user.access }),
      (r) => r.body.state === 'completed',
      60_000,
    );
  }
  const listed = await Promise.all(
    users.map(async (user) => (await api.call('GET', 'orders/', { token: user.access })).body.results),
  );
  expect(listed.flat().filter((o: { state: string }) => o.state === 'completed')).toHaveLength(USERS * 2);
  expect((await reconcile(api.db.orm.em.fork())).mismatches).toEqual([]);
}, 180_000);
