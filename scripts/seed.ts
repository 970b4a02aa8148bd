import { loadEnv, passwordHashCost } from '../src/config/env.js';
import { openDatabase } from '../src/runtime/resources.js';
import { seed } from '../src/services/seed.js';
import { setPasswordHashCost } from '../src/services/accounts.js';

const env = loadEnv();
setPasswordHashCost(passwordHashCost(env));
const orm = await openDatabase(env);
try {
  await seed(orm.em.fork(), { username: env.ADMIN_USERNAME, password: env.ADMIN_PASSWORD });
  console.log(`seeded: ABAN, BTC, ETH; admin user "${env.ADMIN_USERNAME}"`);
} finally {
  await orm.close();
}
