import { ADMIN, login, newUser, startApi, type TestApi } from './support/api.js';

let api: TestApi;
let admin: string;
let user: { access: string };
/** The id of the user's deposit entry: a real row that a coerced spelling of its id would find. */
let entryId: number;
beforeAll(async () => {
  api = await startApi();
  admin = await login(api, ADMIN.username, ADMIN.password);
  user = await newUser(api);
  await api.call('PATCH', 'accounts/wallet/deposit/', { token: user.access, body: { amount: '5.00' } });
  entryId = (await api.call('GET', 'transactions/', { token: user.access })).body.results[0].id;
});
afterAll(async () => api?.close());

const INT_MAX = 2_147_483_647;
const SAFE_MAX = Number.MAX_SAFE_INTEGER;

/** Spellings that are not plain decimal digits of a positive id, or out of any id column's range. */
const badIds = [
  '0',
  '-1',
  '0x1',
  '1e0',
  '%201',
  '1%20',
  '+1',
  '01',
  '1.0',
  '1_000',
  'abc',
  String(SAFE_MAX + 1),
  '99999999999999999999',
];

const pathRoutes: { route: string; method: string; path: (id: string) => string; token: () => string }[] = [
  { route: 'GET orders/{id}/', method: 'GET', path: (id) => `orders/${id}/`, token: () => user.access },
  {
    route: 'GET transactions/{id}/',
    method: 'GET',
    path: (id) => `transactions/${id}/`,
    token: () => user.access,
  },
  {
    route: 'POST admin/orders/{id}/approve/',
    method: 'POST',
    path: (id) => `admin/orders/${id}/approve/`,
    token: () => admin,
  },
  {
    route: 'POST admin/orders/{id}/reject/',
    method: 'POST',
    path: (id) => `admin/orders/${id}/reject/`,
    token: () => admin,
  },
];

describe.each(pathRoutes)('$route', ({ method, path, token }) => {
  it.each(badIds)('id %s → 400', async (id) => {
    const res = await api.call(method, path(id), { token: token() });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_error');
  });

  it('a well-formed id that does not exist → 404', async () => {
    expect((await api.call(method, path(String(SAFE_MAX)), { token: token() })).status).toBe(404);
  });
});

it('an existing entry is found only under its plain decimal id, never a coerced spelling', async () => {
  const get = (id: string) => api.call('GET', `transactions/${id}/`, { token: user.access });
  expect((await get(String(entryId))).status).toBe(200);
  for (const spelling of [`0x${entryId.toString(16)}`, `${entryId}e0`, `%20${entryId}`, `0${entryId}`]) {
    expect((await get(spelling)).status).toBe(400);
  }
});

const listRoutes: { path: string; column: 'int' | 'bigint'; token: () => string }[] = [
  { path: 'orders/', column: 'bigint', token: () => user.access },
  { path: 'transactions/', column: 'bigint', token: () => user.access },
  { path: 'admin/orders/held/', column: 'bigint', token: () => admin },
  { path: 'admin/batches/', column: 'bigint', token: () => admin },
  { path: 'admin/house/', column: 'bigint', token: () => admin },
  // Paged by user id, an int column.
  { path: 'admin/wallets/', column: 'int', token: () => admin },
];

describe.each(listRoutes)('GET $path', ({ path, column, token }) => {
  const list = (query: string) => api.call('GET', `${path}?${query}`, { token: token() });

  it.each(badIds)('cursor %s → 400', async (cursor) => {
    const res = await list(`cursor=${cursor}`);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_error');
  });

  it("cursors up to the column's maximum are accepted; one past it is 400", async () => {
    const max = column === 'int' ? INT_MAX : SAFE_MAX;
    expect((await list(`cursor=${max}`)).status).toBe(200);
    expect((await list(`cursor=${BigInt(max) + 1n}`)).status).toBe(400);
    expect((await list(`cursor=${INT_MAX + 1}`)).status).toBe(column === 'int' ? 400 : 200);
  });

  it.each(['0', '101', '-1', '1e1', '%2010', '10.0', '010', 'abc', '99999999999999999999'])(
    'limit %s → 400',
    async (limit) => {
      const res = await list(`limit=${limit}`);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('validation_error');
    },
  );

  it('limit 1 and 100 are accepted; a repeated cursor is 400', async () => {
    expect((await list('limit=1')).status).toBe(200);
    expect((await list('limit=100')).status).toBe(200);
    expect((await list('cursor=1&cursor=2')).status).toBe(400);
  });
});
