import { loadSimulatorConfig } from './config.js';
import { buildSimulator } from './server.js';

const config = loadSimulatorConfig();
const app = buildSimulator(config);

let closing = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down');
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        app.log.error(err);
        process.exit(1);
      },
    );
  });
}

await app.listen({ host: config.host, port: config.port });
