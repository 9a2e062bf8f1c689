import { InvalidationBus } from '../../src/database/invalidation-bus';
import { sleep } from '../support/auth-helpers';
import { TcpProxy } from '../support/tcp-proxy';
import { startApp, type TestApp } from '../support/test-app';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

/*
 * When an instance may trust its caches: only while its notification feed (the LISTEN
 * connection) is up and was resynchronised after it last connected. The instance
 * reaches PostgreSQL through a TCP proxy that the tests cut and restore.
 */

const FEED_TIMEOUT = { INVALIDATION_FEED_TIMEOUT_SECONDS: '2' };

/** Samples `bus.live` every 20 ms for `ms`: every value seen. */
async function liveDuring(bus: InvalidationBus, ms: number): Promise<boolean[]> {
  const seen: boolean[] = [];
  for (const end = Date.now() + ms; Date.now() < end; await sleep(20)) seen.push(bus.live);
  return seen;
}

async function until(condition: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(20)) if (condition()) return true;
  return condition();
}

describe('the invalidation feed', () => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  let app: TestApp;
  let bus: InvalidationBus;

  beforeEach(async () => {
    database = await createTestDatabase();
    proxy = TcpProxy.forUrl(database.url);
    await proxy.start();
    app = await startApp(proxy.route(database.url), FEED_TIMEOUT);
    bus = app.app.get(InvalidationBus);
  });
  afterEach(async () => {
    await app?.close();
    await proxy.stop();
    await database?.drop();
  });

  it('is not trusted while reconnects fail, and is again once the database is back', async () => {
    expect(bus.live).toBe(true);
    await proxy.stop();
    expect(await until(() => !bus.live, 1000)).toBe(true);

    // Several reconnect attempts (one a second) fail meanwhile.
    expect(await liveDuring(bus, 3000)).not.toContain(true);

    await proxy.start();
    expect(await until(() => bus.live, 5000)).toBe(true);
  });

  it('a connection lost while it resynchronises is not trusted: the next one resynchronises first', async () => {
    let inResync!: () => void;
    const resyncStarted = new Promise<void>((resolve) => (inResync = resolve));
    let finishResync!: () => void;
    const resyncMayFinish = new Promise<void>((resolve) => (finishResync = resolve));
    let holdNextResync = true;
    // A listener whose next resync takes as long as the test wants.
    bus.register({
      invalidate: () => undefined,
      resync: async () => {
        if (!holdNextResync) return;
        holdNextResync = false;
        inResync();
        await resyncMayFinish;
      },
    });

    await proxy.stop();
    expect(await until(() => !bus.live, 1000)).toBe(true);
    await proxy.start();
    await resyncStarted;
    // The other listeners' reloads are done; then the connection dies before the resync ends.
    await sleep(200);
    await proxy.stop();
    finishResync();

    expect(await liveDuring(bus, 1500)).not.toContain(true);
    await proxy.start();
    expect(await until(() => bus.live, 5000)).toBe(true);
  });
});
