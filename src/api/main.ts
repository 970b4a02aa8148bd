import { loadEnv } from '../config/env.js';
import { connectTemporal, openDatabase } from '../runtime/resources.js';
import { onShutdown } from '../runtime/shutdown.js';
import { buildApp } from './app.js';

const env = loadEnv();
const orm = await openDatabase(env);
const { connection, client } = await connectTemporal(env);
const app = await buildApp({ env, orm, temporal: client });

onShutdown(
  async () => {
    await app.close();
    await connection.close();
    await orm.close();
  },
  (msg) => app.log.info(msg),
);

await app.listen({ host: env.API_HOST, port: env.API_PORT });
