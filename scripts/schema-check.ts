/**
 * `npm run schema:check`: builds a scratch database from the migrations on DATABASE_URL's server and
 * fails, listing the statements, when it differs from what the entities in src/entities describe.
 */
import { loadEnv } from '../src/config/env.js';
import { requireDatabaseUrl } from '../src/runtime/resources.js';
import { migratedScratchDatabase, schemaDifferences } from './schema-diff.js';

const db = await migratedScratchDatabase(requireDatabaseUrl(loadEnv()));
try {
  const differences = await schemaDifferences(db.orm);
  if (differences.length === 0) {
    console.log('entities and migrations agree');
  } else {
    console.error('entities and migrations differ; the entities would need:');
    for (const statement of differences) console.error(`  ${statement};`);
    process.exitCode = 1;
  }
} finally {
  await db.drop();
}
