import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../tools/embedded-postgres.js';
import { migrate, openOrm } from '../../src/db/orm.js';
import { startDevServer, type DevServer } from '../../tools/temporal-dev-server.js';
import getPort from 'get-port';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { writeWorkflowBundle } from './workflow-bundle.js';
import { adminQuery, canConnect, withDatabase } from '../../tools/postgres-admin.js';

declare global {
  var __testServices: {
    embedded?: EmbeddedPostgres;
    temporal: DevServer;
    adminUrl: string;
    template: string;
    workflowBundle: string;
    temporalConfigFile?: string;
  };
}

/**
 * Once per `jest` run: a Postgres (the configured one, else an embedded one), a template database
 * with every migration applied, and a Temporal dev server. Test files clone the template.
 */
export async function startServices(): Promise<void> {
  let adminUrl =
    process.env.TEST_DATABASE_URL ??
    process.env.DATABASE_URL ??
    'postgres://postgres@127.0.0.1:5432/postgres';
  let embedded: EmbeddedPostgres | undefined;
  if (!(await canConnect(adminUrl))) {
    embedded = await startEmbeddedPostgres('.data/test-postgres', 54330);
    adminUrl = embedded.url;
  }
  const template = `cp_template_${process.pid}`;
  await adminQuery(adminUrl, `drop database if exists ${template}`);
  await adminQuery(adminUrl, `create database ${template}`);
  const orm = await openOrm({ databaseUrl: withDatabase(adminUrl, template), poolSize: 1 });
  await migrate(orm);
  await orm.close();

  // One namespace per jest worker (JEST_WORKER_ID), so files running side by side never share a workflow id.
  const namespaces = Array.from({ length: 8 }, (_, i) => `test-${i + 1}`);
  // The workflow code is bundled once for the run while the dev server starts.
  const workflowBundle = join(tmpdir(), `cp-workflows-${process.pid}.js`);
  const [temporal] = await Promise.all([
    startDevServer({ port: await getPort(), namespaces }),
    writeWorkflowBundle(workflowBundle),
  ]);
  globalThis.__testServices = { embedded, temporal, adminUrl, template, workflowBundle };
  // Workers are forked after global setup, so they inherit these.
  process.env.TEST_PG_ADMIN_URL = adminUrl;
  process.env.TEST_PG_TEMPLATE = template;
  process.env.TEST_TEMPORAL_ADDRESS = temporal.address;
  process.env.TEST_WORKFLOW_BUNDLE = workflowBundle;
  // The tests' Temporal is the dev server above: a developer's own temporal.toml (a Cloud profile
  // with an API key, say) must not lend its settings to the processes under test.
  if (!process.env.TEMPORAL_CONFIG_FILE) {
    process.env.TEMPORAL_CONFIG_FILE = join(tmpdir(), `cp-temporal-${process.pid}.toml`);
    await writeFile(
      process.env.TEMPORAL_CONFIG_FILE,
      '# every setting comes from the test\n[profile.default]\n',
    );
    globalThis.__testServices.temporalConfigFile = process.env.TEMPORAL_CONFIG_FILE;
  }
}
