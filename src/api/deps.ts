import type { MikroORM } from '@mikro-orm/postgresql';
import type { Client } from '@temporalio/client';
import type { DestinationStream } from 'pino';
import type { Env } from '../config/env.js';

/** Everything the API needs from outside; tests build it with real Postgres and Temporal. */
export interface ApiDeps {
  env: Env;
  orm: MikroORM;
  temporal: Client;
  /** Where the log lines go (pino JSON, one a line); stdout when absent. */
  logDestination?: DestinationStream;
}
