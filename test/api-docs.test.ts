import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { DOCS_CSP } from '../src/api/plugins/docs.js';
import { docsEnabled, loadEnv } from '../src/config/env.js';
import { ADMIN, type TestApi, apisPerFile } from './support/api.js';

const apiWith = apisPerFile();

let api: TestApi;
beforeAll(async () => {
  api = await apiWith({ DOCS_ENABLED: 'true' });
});

describe('docs switch', () => {
  it('is on by default in development only', () => {
    // Outside development the configuration also needs real secrets.
    const test = { APP_ENV: 'test', JWT_SECRET: 'k'.repeat(40), ADMIN_PASSWORD: ADMIN.password };
    expect(docsEnabled(loadEnv({}))).toBe(true);
    expect(docsEnabled(loadEnv(test))).toBe(false);
    expect(docsEnabled(loadEnv({ ...test, DOCS_ENABLED: 'true' }))).toBe(true);
    expect(docsEnabled(loadEnv({ DOCS_ENABLED: 'false' }))).toBe(false);
  });

  it('when off, Swagger UI, ReDoc and openapi.json are 404', async () => {
    const off = await apiWith(); // APP_ENV=test, DOCS_ENABLED unset
    for (const path of ['swagger/', 'redoc/', 'openapi.json', 'swagger/json'])
      expect((await off.call('GET', path)).status).toBe(404);
  });
});

describe('docs pages', () => {
  it('serve the OpenAPI document, Swagger UI and ReDoc from this server, under a CSP', async () => {
    const spec = await api.call('GET', 'openapi.json');
    expect(spec.status).toBe(200);
    expect(Object.keys(spec.body.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/accounts/auth/register/',
        '/api/v1/accounts/wallet/deposit/',
        '/api/v1/transactions/{id}/',
      ]),
    );
    const swagger = await api.call('GET', 'swagger/');
    expect(swagger.status).toBe(200);
    expect(swagger.headers.get('content-security-policy')).toBe(DOCS_CSP);

    const redoc = await api.call('GET', 'redoc/');
    expect(redoc.status).toBe(200);
    expect(redoc.headers.get('content-security-policy')).toBe(DOCS_CSP);
    const page = String(redoc.body);
    expect(page).toContain('<redoc spec-url="/api/v1/openapi.json">');
    // The bundle is ours, pinned, not a CDN's.
    expect(page).not.toMatch(/https?:\/\//);
    const script = /<script src="([^"]+)" integrity="(sha384-[^"]+)"/.exec(page);
    expect(script).not.toBeNull();
    const bundle = await fetch(new URL(script![1]!, api.url));
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get('content-type')).toContain('javascript');
    expect(bundle.headers.get('cache-control')).toContain('immutable');
    expect((await bundle.text()).length).toBeGreaterThan(100_000);
  });
});

/** The Chromium to drive: CHROMIUM_PATH, else the first browser on PATH. */
function findChromium(): string | undefined {
  if (process.env.CHROMIUM_PATH && existsSync(process.env.CHROMIUM_PATH)) return process.env.CHROMIUM_PATH;
  for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
    try {
      return execFileSync('which', [name], { encoding: 'utf8' }).trim();
    } catch {
      // not this one
    }
  }
  return undefined;
}

const chromiumPath = findChromium();
if (!chromiumPath)
  console.warn('SKIPPED: docs pages in a browser: no Chromium binary (apt-get install chromium)');
const inBrowser = chromiumPath ? describe : describe.skip;

inBrowser('docs pages in headless Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
  });
  afterAll(async () => browser?.close());

  it.each([
    ['Swagger UI', 'swagger/'],
    ['ReDoc', 'redoc/'],
  ])(
    '%s renders the API title and POST /api/v1/orders/ with nothing failed or refused',
    async (_name, path) => {
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('requestfailed', (r) => problems.push(`failed: ${r.url()} ${r.failure()?.errorText}`));
      page.on('response', (r) => {
        if (r.status() >= 400) problems.push(`${r.status()}: ${r.url()}`);
      });
      page.on('console', (m) => {
        if (m.type() === 'error' || /Content.Security.Policy/i.test(m.text()))
          problems.push(`console ${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      try {
        await page.goto(`${api.url}/${path}`);
        // Rendered text only, so a page that loads but draws nothing fails. Polled from here:
        // waitForFunction polls inside the page with eval, which the docs' CSP refuses.
        const rendered = async () => {
          const text = await page.locator('body').innerText();
          return text.includes('Crypto purchase API') && /post\s+\/api\/v1\/orders\/\s/i.test(text);
        };
        const deadline = Date.now() + 15_000;
        while (!(await rendered())) {
          if (Date.now() > deadline) throw new Error(`${path} did not render the API in 15 s`);
          await new Promise((r) => setTimeout(r, 100));
        }
        expect(problems).toEqual([]);
      } finally {
        await page.close();
      }
    },
  );
});
