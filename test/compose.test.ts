import { readFileSync } from 'node:fs';

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
