import { mkdirSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { resolve } from 'node:path';
import {
  chromium,
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  type Page,
} from 'playwright-core';
import { UsersService } from '../../../src/users/users.service';
import { PASSWORD, signUp, uniqueEmail, type SignedUp } from '../../support/auth-helpers';
import { startAppOnFreshDatabase, type TestContext } from '../../support/test-app';
import { CHROMIUM_PATH, SCREENSHOT_DIR } from './paths';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

const slug = (text: string) =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');

/** Saves `test-results/screenshots/<name>.png` (full page) and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const path = resolve(SCREENSHOT_DIR, `${slug(name).slice(0, 120)}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/**
 * The app's environment, or a function of the suite's own base URL that returns it
 * (e.g. `PUBLIC_URL`, so that mailed links open this app), called when the suite
 * starts, after the other `beforeAll` hooks registered before it (an SMTP sink's `url`).
 */
export type SuiteEnv = Record<string, string> | ((baseURL: string) => Record<string, string>);

/** A port that was free a moment ago, on 127.0.0.1. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A user made over the JSON API, with its id and password. */
export type TestUser = SignedUp & { name?: string };

/**
 * One app on a fresh database, listening on 127.0.0.1, and one Chromium for a test
 * file. Every browser context opened through `newContext` is closed after its test,
 * with a screenshot of each of its pages (`<test name>--end-<n>.png`) so that a
 * failing test leaves a picture of where it stopped. Requests to any other host
 * are aborted and recorded in `offSiteRequests` (the machine has no network).
 */
export class BrowserSuite {
  ctx!: TestContext;
  browser!: Browser;
  baseURL = '';
  readonly offSiteRequests: string[] = [];
  readonly pageErrors: string[] = [];
  private contexts: BrowserContext[] = [];
  private endShots = new Set<string>();

  async start(env: SuiteEnv = {}): Promise<void> {
    // An environment that names the suite's URL needs the port before the app starts.
    const wanted = typeof env === 'function' ? await freePort() : 0;
    const appEnv = typeof env === 'function' ? env(`http://127.0.0.1:${wanted}`) : env;
    // Both settled before failing, so that `stop()` cleans up whichever one started.
    const [ctx, browser] = await Promise.allSettled([startAppOnFreshDatabase(appEnv), launchChromium()]);
    if (ctx.status === 'fulfilled') this.ctx = ctx.value;
    if (browser.status === 'fulfilled') this.browser = browser.value;
    for (const result of [ctx, browser]) if (result.status === 'rejected') throw result.reason;
    await this.ctx.app.listen(wanted, '127.0.0.1');
    const { port } = this.ctx.app.getHttpServer().address() as AddressInfo;
    this.baseURL = `http://127.0.0.1:${port}`;
  }

  async stop(): Promise<void> {
    await this.browser?.close();
    await this.ctx?.close();
  }

  /** A new browser profile ("device"): its own cookies, nothing shared with the others. */
  async newContext(options: BrowserContextOptions = {}): Promise<BrowserContext> {
    const context = await this.browser.newContext({ baseURL: this.baseURL, ...options });
    context.setDefaultTimeout(10_000);
    context.setDefaultNavigationTimeout(15_000);
    const origin = new URL(this.baseURL).origin;
    await context.route(
      (url) => url.origin !== origin,
      async (route) => {
        this.offSiteRequests.push(route.request().url());
        await route.abort('blockedbyclient');
      },
    );
    context.on('page', (page) => page.on('pageerror', (error) => this.pageErrors.push(error.message)));
    this.contexts.push(context);
    return context;
  }

  /** A page in a new context. */
  async newPage(options: BrowserContextOptions = {}): Promise<Page> {
    return (await this.newContext(options)).newPage();
  }

  /** Screenshots of every open page, then closes every context of the test. */
  async endTest(): Promise<void> {
    const test = expect.getState().currentTestName ?? 'test';
    const contexts = this.contexts;
    this.contexts = [];
    let base = slug(test).slice(0, 100);
    for (let i = 2; this.endShots.has(base); i++) base = `${slug(test).slice(0, 100)}-${i}`;
    this.endShots.add(base);
    let n = 0;
    for (const context of contexts) {
      for (const page of context.pages()) {
        await screenshot(page, `${base}-end-${n++}`).catch(() => undefined);
      }
      await context.close().catch(() => undefined);
    }
  }

  url(path: string): string {
    return new URL(path, this.baseURL).toString();
  }

  /** A fresh account made through POST /api/auth/signup. */
  async signUp(prefix = 'user', name?: string): Promise<TestUser> {
    const email = uniqueEmail(prefix);
    if (name === undefined) return signUp(() => this.ctx.http(), email);
    const res = await this.ctx
      .http()
      .post('/api/auth/signup')
      .send({ email, password: PASSWORD, name })
      .expect(201);
    return { id: (res.body as { id: string }).id, email, password: PASSWORD, name };
  }

  /** A fresh account with the `admin` role. */
  async signUpAdmin(): Promise<TestUser> {
    const user = await this.signUp('admin');
    await this.ctx.app.get(UsersService).grantRole(user.id, 'admin');
    return user;
  }
}

/** Registers the hooks of a browser test file and returns its suite (ready inside tests). */
export function useBrowserSuite(env: SuiteEnv = {}): BrowserSuite {
  const suite = new BrowserSuite();
  beforeAll(() => suite.start(env), 60_000);
  afterEach(() => suite.endTest(), 30_000);
  afterAll(() => suite.stop(), 30_000);
  return suite;
}

/**
 * For the page suites: each test fails at once, with a clear message, while the
 * server-rendered pages are not there (GET /login not 200), instead of timing out
 * on every missing field.
 */
export function requirePages(suite: BrowserSuite): void {
  let status = 0;
  beforeAll(async () => {
    status = (await suite.ctx.http().get('/login')).status;
  });
  beforeEach(() => {
    if (status !== 200)
      throw new Error(`the server-rendered pages are missing: GET /login answered ${status}`);
  });
}

/** "/path?query" of the page's URL; throws if the page left the app's origin. */
export function localPath(page: Page, suite: BrowserSuite): string {
  const url = new URL(page.url());
  if (url.origin !== new URL(suite.baseURL).origin) throw new Error(`page left the app: ${page.url()}`);
  return url.pathname + url.search;
}
