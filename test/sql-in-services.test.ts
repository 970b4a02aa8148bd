import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(import.meta.dirname, '..', 'src');
/** Where SQL may be written: the services, the typed query helper, the migrations. */
const allowed = ['services/', 'db/', 'migrations/'];
/** How code reaches the database: raw SQL, the typed Kysely, the connection, the entity manager's queries. */
const databaseCall =
  /\.(execute|getKysely|getConnection|nativeUpdate|nativeDelete|insert|find|findOne)\s*[<(]/;

const sources = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sources(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [join(dir, entry.name)]
        : [],
  );

it('queries the database only from services (and the ORM setup and migrations)', () => {
  const offenders = sources(root)
    .map((file) => relative(root, file))
    .filter((file) => !allowed.some((prefix) => file.startsWith(prefix)))
    .filter((file) => !file.startsWith('workflows/') && !file.startsWith('exchange/'))
    .flatMap((file) =>
      readFileSync(join(root, file), 'utf8')
        .split('\n')
        .map((line, i) => ({ file, line: i + 1, text: line.trim() }))
        .filter(({ text }) => databaseCall.test(text) && /\bem\b|\btx\b|orm\.|\.em\b/.test(text)),
    );
  expect(offenders).toEqual([]);
});
