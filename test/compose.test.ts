import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { parse } from 'yaml';
import { loadEnv } from '../src/config/env.js';

/** Each service's `ports:` entries, read from the compose file's two-space layout. */
function publishedPorts(file: string): Map<string, string[]> {
  const ports = new Map<string, string[]>();
  let inServices = false;
  let service: string | undefined;
  let inPorts = false;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (/^\S/.test(line)) inServices = line.startsWith('services:');
    if (!inServices) continue;
    const serviceName = /^ {2}([\w-]+):\s*$/.exec(line);
    if (serviceName) {
      service = serviceName[1];
      inPorts = false;
      continue;
    }
    if (/^ {4}\S/.test(line)) inPorts = /^ {4}ports:/.test(line);
    const entry = /^ {6}- ['"]?([^'"\s]+)['"]?\s*$/.exec(line);
    if (inPorts && service && entry) ports.set(service, [...(ports.get(service) ?? []), entry[1]!]);
  }
  return ports;
}

it('docker-compose publishes only the API beyond the host; Temporal only on loopback', () => {
  const ports = publishedPorts(new URL('../docker-compose.yml', import.meta.url).pathname);
  expect(ports.get('api')).toEqual(['8000:8000']);
  expect(ports.get('temporal')).toEqual(['127.0.0.1:7233:7233', '127.0.0.1:8233:8233']);
  for (const [service, entries] of ports) {
    if (service === 'api') continue;
    for (const entry of entries) expect(`${service} ${entry}`).toMatch(/^\S+ 127\.0\.0\.1:\d+:\d+$/);
  }
});

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string | string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
}

const root = new URL('../', import.meta.url);
const readYaml = (path: string) => parse(readFileSync(new URL(path, root), 'utf8'), { merge: true });
const compose = readYaml('docker-compose.yml') as { services: Record<string, ComposeService> };
const services = compose.services;

it('every image is pinned to an exact version', () => {
  for (const [name, service] of Object.entries(services)) {
    if (service.build) continue; // the project's own image, built from the Dockerfile
    expect(`${name} ${service.image}`).toMatch(/^\S+ [\w./-]+:v?\d+\.\d+(\.\d+)?$/);
  }
});

it('only the UIs are published besides the API, each on loopback; metrics and OTLP are not', () => {
  const ports = publishedPorts(new URL('../docker-compose.yml', import.meta.url).pathname);
  expect(Object.fromEntries(ports)).toEqual({
    api: ['8000:8000'],
    temporal: ['127.0.0.1:7233:7233', '127.0.0.1:8233:8233'],
    prometheus: ['127.0.0.1:9090:9090'],
    grafana: ['127.0.0.1:3000:3000'],
    jaeger: ['127.0.0.1:16686:16686'],
  });
});

it('Prometheus scrapes the API, the worker and Temporal where compose has them listen', () => {
  const config = readYaml('deployments/prometheus/prometheus.yml') as {
    rule_files: string[];
    scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
  };
  const targets = Object.fromEntries(
    config.scrape_configs.map((c) => [c.job_name, c.static_configs.flatMap((s) => s.targets)]),
  );
  expect(targets).toEqual({ api: ['api:9463'], worker: ['worker:9464'], temporal: ['temporal:9233'] });
  // The defaults of API_METRICS_PORT and WORKER_METRICS_PORT, which compose does not change.
  const env = loadEnv({});
  expect([env.API_METRICS_PORT, env.WORKER_METRICS_PORT]).toEqual([9463, 9464]);
  for (const name of ['api', 'worker']) {
    expect(services[name]!.environment).toMatchObject({ API_HOST: '0.0.0.0', API_METRICS_HOST: '0.0.0.0' });
  }
  expect(String(services.temporal!.command)).toMatch(/--ip 0\.0\.0\.0 .*--metrics-port 9233\b/);
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
