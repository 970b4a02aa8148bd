import { loadEnv } from '../src/config/env.js';
import { migrate } from '../src/db/orm.js';
import { openDatabase } from '../src/runtime/resources.js';

const orm = await openDatabase(loadEnv());
try {
  const applied = await migrate(orm);
  console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
} finally {
  await orm.close();
}
