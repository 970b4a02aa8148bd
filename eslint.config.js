import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

export default tseslint.config(
  { ignores: ['node_modules', 'dist', '.tools', '.data', 'coverage', 'bench/results'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no Node built-ins, no ORM, no activity implementations.
    files: ['src/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*'], message: 'Workflows may not use Node built-ins.' },
            {
              group: ['@mikro-orm/*', 'pg', 'fastify', '@fastify/*', 'ioredis'],
              message: 'Workflows may not do I/O.',
            },
            {
              group: ['**/activities/*', '!**/activities/types.js'],
              allowTypeImports: true,
              message: 'Workflows import activity types only (proxyActivities<typeof activities>).',
            },
            {
              group: [
                '**/services/*',
                '**/db/*',
                '**/api/*',
                '**/exchange/*',
                '**/entities/*',
                '**/config/*',
                '**/metrics/*',
                '**/worker/*',
              ],
              message: 'Workflows may not do I/O.',
            },
            {
              group: ['**/temporal/*', '!**/temporal/failures.js'],
              message: 'Workflows may use the failure conversions of src/temporal, nothing else there.',
            },
          ],
          paths: ['fs', 'path', 'crypto', 'http', 'https', 'net', 'child_process', 'os', 'timers'],
        },
      ],
    },
  },
  {
    // Services hold the business operations; the workflows that orchestrate them are not theirs to use.
    files: ['src/services/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/workflows/*', '**/workflows'],
              message: 'Services may not import workflows; the order contract is in src/domain.',
            },
          ],
        },
      ],
    },
  },
  {
    // The domain is pure: types, rules and errors, no I/O of any kind.
    files: ['src/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*'], message: 'The domain may not use Node built-ins.' },
            {
              group: ['@mikro-orm/*', 'pg', 'fastify', '@fastify/*', 'ioredis', '@temporalio/*'],
              message: 'The domain may not do I/O.',
            },
            {
              group: [
                '**/services/*',
                '**/db/*',
                '**/api/*',
                '**/exchange/*',
                '**/activities/*',
                '**/workflows/*',
                '**/entities/*',
                '**/temporal/*',
                '**/config/*',
              ],
              message: 'The domain may not depend on the layers around it.',
            },
          ],
          paths: ['fs', 'path', 'crypto', 'http', 'https', 'net', 'child_process', 'os', 'timers'],
        },
      ],
    },
  },
  {
    // Tests read loosely typed JSON responses.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  prettier,
);
