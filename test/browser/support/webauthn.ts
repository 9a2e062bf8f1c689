import type { CDPSession, Page } from 'playwright-core';
import { BrowserSuite, type SuiteEnv } from './browser-suite';

/**
 * Passkeys in the browser suite: Chromium's virtual authenticator (Chrome DevTools
 * Protocol, WebAuthn domain) stands in for a platform authenticator with a screen
 * lock, and a suite on `http://localhost:<port>`: WebAuthn needs a domain for the
 * relying-party id (an IP address such as 127.0.0.1 is refused), and localhost is a
 * secure context without TLS.
 */

const toLocalhost = (url: string) => url.replace('//127.0.0.1:', '//localhost:');

/**
 * A BrowserSuite whose pages open http://localhost:<port> (the app still listens on
 * 127.0.0.1, which Chromium resolves localhost to) and whose app has PUBLIC_URL set
 * to that URL, so that the RP ID is "localhost" and the origin is the pages' own.
 */
export class LocalhostBrowserSuite extends BrowserSuite {
  override async start(env: SuiteEnv = {}): Promise<void> {
    await super.start((baseURL) => {
      const url = toLocalhost(baseURL);
      return { PUBLIC_URL: url, ...(typeof env === 'function' ? env(url) : env) };
    });
    this.baseURL = toLocalhost(this.baseURL);
  }
}

/** useBrowserSuite's hooks, for a LocalhostBrowserSuite. */
export function useLocalhostBrowserSuite(env: SuiteEnv = {}): LocalhostBrowserSuite {
  const suite = new LocalhostBrowserSuite();
  beforeAll(() => suite.start(env), 60_000);
  afterEach(() => suite.endTest(), 30_000);
  afterAll(() => suite.stop(), 30_000);
  return suite;
}

export interface VirtualAuthenticator {
  session: CDPSession;
  authenticatorId: string;
  /** The credentials it holds (one per registered passkey). */
  credentials(): Promise<{ credentialId: string; rpId?: string; isResidentCredential: boolean }[]>;
}

/**
 * Adds a virtual authenticator to `page` (for its lifetime, across navigations): an
 * internal (platform) CTAP2 authenticator with resident keys and user verification
 * that always succeeds, and presence simulated, so no prompt waits for a person.
 */
export async function addVirtualAuthenticator(page: Page): Promise<VirtualAuthenticator> {
  const session = await page.context().newCDPSession(page);
  await session.send('WebAuthn.enable');
  const { authenticatorId } = await session.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return {
    session,
    authenticatorId,
    credentials: async () => (await session.send('WebAuthn.getCredentials', { authenticatorId })).credentials,
  };
}
