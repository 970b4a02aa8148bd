import { Migration0001Initial } from './0001-initial.js';

/** Listed explicitly so migrations run the same under tsx, compiled JS and jest. */
export const migrations = [{ name: '0001-initial', class: Migration0001Initial }];
