import { rm } from 'node:fs/promises';
import { adminQuery } from '../../tools/postgres-admin.js';

export async function stopServices(): Promise<void> {
  const services = globalThis.__testServices;
  if (!services) return;
  await services.temporal.stop('SIGKILL'); // in-memory: nothing to flush
  await adminQuery(services.adminUrl, `drop database if exists ${services.template}`).catch(() => undefined);
  await services.embedded?.stop();
  await rm(services.workflowBundle, { force: true });
  if (services.temporalConfigFile) await rm(services.temporalConfigFile, { force: true });
}
