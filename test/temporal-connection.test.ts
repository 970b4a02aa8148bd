import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import { envSchema, loadEnv } from '../src/config/env.js';
import { resolveTemporalConnection, TEMPORAL_CONNECTION_VARIABLES } from '../src/config/temporal.js';
import { connectTemporal } from '../src/runtime/resources.js';

// A directory of files per run; no config directory of the user is looked at (`{}` below).
const dir = mkdtempSync(join(tmpdir(), 'cp-temporal-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const resolve = (vars: Record<string, string>) => resolveTemporalConnection(loadEnv(vars), {});

describe('Temporal connection settings (option derivation, no server)', () => {
  it('every connection variable is validated by env.ts (and so listed in .env.example)', () => {
    for (const name of TEMPORAL_CONNECTION_VARIABLES) expect(Object.keys(envSchema.shape)).toContain(name);
    expect(() => loadEnv({ TEMPORAL_TLS: 'yes' })).toThrow(/TEMPORAL_TLS/);
  });

  it('defaults to the local dev server and the default namespace, without TLS', () => {
    const settings = resolve({});
    expect(settings.connectionOptions.address).toBe('127.0.0.1:7233');
    expect(settings.namespace).toBe('default');
    expect(settings.connectionOptions.tls).toBeUndefined();
    expect(settings.connectionOptions.apiKey).toBeUndefined();
  });

  it('an API key turns TLS on (Temporal Cloud), unless TEMPORAL_TLS=false says otherwise', () => {
    const cloud = resolve({
      TEMPORAL_ADDRESS: 'eu-west-1.aws.api.temporal.io:7233',
      TEMPORAL_NAMESPACE: 'orders.a1b2c',
      TEMPORAL_API_KEY: 'secret-key',
    });
    expect(cloud.connectionOptions).toMatchObject({
      address: 'eu-west-1.aws.api.temporal.io:7233',
      apiKey: 'secret-key',
      tls: true,
    });
    expect(cloud.namespace).toBe('orders.a1b2c');
    expect(resolve({ TEMPORAL_API_KEY: 'k', TEMPORAL_TLS: 'false' }).connectionOptions.tls).toBe(false);
    expect(resolve({ TEMPORAL_TLS: 'true' }).connectionOptions.tls).toEqual(
      expect.objectContaining({ clientCertPair: undefined }),
    );
  });

  it('reads the client certificate and key (mTLS), the CA and the server name from their paths', () => {
    const crt = file('client.pem', '-----BEGIN CERTIFICATE-----\nclient\n-----END CERTIFICATE-----\n');
    const key = file('client.key', '-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n');
    const ca = file('ca.pem', '-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n');
    const { tls } = resolve({
      TEMPORAL_TLS_CLIENT_CERT_PATH: crt,
      TEMPORAL_TLS_CLIENT_KEY_PATH: key,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: ca,
      TEMPORAL_TLS_SERVER_NAME: 'temporal.internal',
    }).connectionOptions;
    const text = (bytes: unknown) => Buffer.from(bytes as Uint8Array).toString();
    expect(tls).toMatchObject({ serverNameOverride: 'temporal.internal' });
    const config = tls as {
      clientCertPair: { crt: Uint8Array; key: Uint8Array };
      serverRootCACertificate: Uint8Array;
    };
    expect(text(config.clientCertPair.crt)).toContain('client');
    expect(text(config.clientCertPair.key)).toContain('PRIVATE KEY');
    expect(text(config.serverRootCACertificate)).toContain('ca');
  });

  it('a missing certificate file is a start-up error naming the file and the setting', () => {
    const key = file('only.key', 'key');
    expect(() =>
      resolve({ TEMPORAL_TLS_CLIENT_CERT_PATH: join(dir, 'missing.pem'), TEMPORAL_TLS_CLIENT_KEY_PATH: key }),
    ).toThrow(
      /Invalid Temporal connection settings .*TLS client certificate .*missing\.pem \(TEMPORAL_TLS_CLIENT_CERT_PATH or client_cert_path\) cannot be read: ENOENT/,
    );
    expect(() => resolve({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: join(dir, 'no-ca.pem') })).toThrow(
      /TLS server CA certificate .*no-ca\.pem .*ENOENT/,
    );
  });

  it('a certificate without its key (or a key alone) is refused rather than silently dropped', () => {
    const crt = file('half.pem', 'crt');
    expect(() => resolve({ TEMPORAL_TLS_CLIENT_CERT_PATH: crt })).toThrow(
      /certificate and its key must be given together/,
    );
  });

  it('reads a profile of temporal.toml; TEMPORAL_* variables override it', () => {
    const config = file(
      'temporal.toml',
      [
        '[profile.default]',
        'address = "localhost:7233"',
        '',
        '[profile.prod]',
        'address = "temporal.example.com:7233"',
        'namespace = "purchases"',
        'api_key = "from-file"',
        '',
      ].join('\n'),
    );
    expect(resolve({ TEMPORAL_CONFIG_FILE: config }).connectionOptions.address).toBe('localhost:7233');
    const prod = resolve({ TEMPORAL_CONFIG_FILE: config, TEMPORAL_PROFILE: 'prod' });
    expect(prod.connectionOptions).toMatchObject({
      address: 'temporal.example.com:7233',
      apiKey: 'from-file',
      tls: true,
    });
    expect(prod.namespace).toBe('purchases');
    const overridden = resolve({
      TEMPORAL_CONFIG_FILE: config,
      TEMPORAL_PROFILE: 'prod',
      TEMPORAL_NAMESPACE: 'purchases-staging',
    });
    expect(overridden.namespace).toBe('purchases-staging');
    expect(overridden.connectionOptions.address).toBe('temporal.example.com:7233');
  });

  it('a config file, profile or key that does not exist is a start-up error', () => {
    expect(() => resolve({ TEMPORAL_CONFIG_FILE: join(dir, 'absent.toml') })).toThrow(
      /TEMPORAL_CONFIG_FILE .*absent\.toml cannot be read/,
    );
    const config = file('one.toml', '[profile.default]\naddress = "localhost:7233"\n');
    expect(() => resolve({ TEMPORAL_CONFIG_FILE: config, TEMPORAL_PROFILE: 'nope' })).toThrow(
      /profile "nope".*Profile 'nope' not found/,
    );
    const noProfiles = file('empty.toml', '# nothing yet\n');
    expect(() => resolve({ TEMPORAL_CONFIG_FILE: noProfiles })).toThrow(/has no \[profile\.default\] table/);
    const typo = file('typo.toml', '[profile.default]\nadress = "localhost:7233"\n');
    expect(() => resolve({ TEMPORAL_CONFIG_FILE: typo })).toThrow(/unrecognized in profile\.default: adress/);
  });

  it('finds the user config file where the Temporal CLI keeps it', () => {
    const home = mkdtempSync(join(dir, 'home-'));
    const configDir = join(home, 'config');
    mkdirSync(join(configDir, 'temporalio'), { recursive: true });
    writeFileSync(
      join(configDir, 'temporalio', 'temporal.toml'),
      '[profile.default]\nnamespace = "from-home"\n',
    );
    expect(resolveTemporalConnection(loadEnv({}), { XDG_CONFIG_HOME: configDir }).namespace).toBe(
      'from-home',
    );
  });
});

it('the client and the worker connect to a dev server through a temporal.toml profile', async () => {
  const namespace = `test-${process.env.JEST_WORKER_ID ?? '1'}`;
  const config = file(
    'dev.toml',
    `[profile.local]\naddress = "${process.env.TEST_TEMPORAL_ADDRESS}"\nnamespace = "${namespace}"\n`,
  );
  const env = loadEnv({ TEMPORAL_CONFIG_FILE: config, TEMPORAL_PROFILE: 'local' });
  expect(env.TEMPORAL_ADDRESS).toBeUndefined(); // the address comes from the profile only
  const { connection, client, settings } = await connectTemporal(env);
  const native = await NativeConnection.connect(settings.connectionOptions);
  try {
    expect(client.options.namespace).toBe(namespace);
    const described = await client.workflowService.describeNamespace({ namespace });
    expect(described.namespaceInfo?.name).toBe(namespace);
    const info = await native.workflowService.getSystemInfo({});
    expect(info.serverVersion).toBeTruthy();
  } finally {
    await native.close();
    await connection.close();
  }
});
