import { randomBytes } from 'node:crypto';
import {
  LoginAttemptsRepository,
  type LockoutWindows,
} from '../../src/auth/lockout/login-attempts.repository';
import { useTestDataSource } from './repository-database';

const WINDOWS: LockoutWindows = { windowMs: 60_000, maxFailures: 3, dayMs: 3_600_000, maxDailyFailures: 5 };

describe('LoginAttemptsRepository', () => {
  const dataSource = useTestDataSource();
  let attempts: LoginAttemptsRepository;
  beforeAll(() => (attempts = new LoginAttemptsRepository(dataSource())));

  const newKey = () => randomBytes(32).toString('hex');
  const row = async (key: string) =>
    (
      await dataSource().query<{ attempts: number; day_failures: number; window: string; day: string }[]>(
        `SELECT attempts, day_failures, window_started_at::text AS window, day_started_at::text AS day
         FROM login_attempts WHERE account_key = $1`,
        [key],
      )
    )[0];
  /** Moves the account's windows back in time, as if they had begun that long ago (the day: if given). */
  const age = (key: string, window: string, day?: string) =>
    dataSource().query(
      `UPDATE login_attempts SET window_started_at = now() - $2::interval,
         day_started_at = coalesce(now() - $3::interval, day_started_at)
       WHERE account_key = $1`,
      [key, window, day ?? null],
    );

  it('counts each attempt in both windows until the short one is full, then refuses without counting', async () => {
    const key = newKey();
    const places = [];
    for (let i = 0; i < 3; i++) places.push(await attempts.reserve(key, WINDOWS));
    expect(places.map((slot) => [slot.locked, slot.attempts, slot.dayFailures])).toEqual([
      [false, 1, 1],
      [false, 2, 2],
      [false, 3, 3],
    ]);
    // Every slot of one window carries the same start, exactly as stored.
    expect(new Set(places.map((slot) => slot.window))).toEqual(new Set([(await row(key)).window]));

    const refused = await attempts.reserve(key, WINDOWS);
    expect(refused.locked).toBe(true);
    expect(refused.retryMs).toBeGreaterThan(55_000);
    expect(refused.retryMs).toBeLessThanOrEqual(60_000);
    await attempts.reserve(key, WINDOWS);
    expect(await row(key)).toMatchObject({ day_failures: 3, window: places[0].window });
  });

  it('lets a burst of parallel attempts take exactly as many slots as the window has', async () => {
    const key = newKey();
    const burst = await Promise.all(Array.from({ length: 12 }, () => attempts.reserve(key, WINDOWS)));
    expect(burst.filter((slot) => !slot.locked)).toHaveLength(3);
    expect((await row(key)).day_failures).toBe(3);
  });

  it('keeps a short window open until its end, then starts it afresh while the day keeps counting', async () => {
    const key = newKey();
    await attempts.reserve(key, WINDOWS);
    await age(key, '59 seconds', '59 seconds');
    expect(await attempts.reserve(key, WINDOWS)).toMatchObject({
      locked: false,
      attempts: 2,
      dayFailures: 2,
    });

    const before = await row(key);
    await age(key, '61 seconds', '61 seconds');
    const aged = await row(key);
    const fresh = await attempts.reserve(key, WINDOWS);
    expect(fresh).toMatchObject({ locked: false, attempts: 1, dayFailures: 3, day: aged.day });
    expect(fresh.window > before.window).toBe(true);
  });

  it('refuses once the day cap is full, though the short window has closed, until the day ends', async () => {
    const key = newKey();
    for (let i = 0; i < 5; i++) {
      expect((await attempts.reserve(key, WINDOWS)).locked).toBe(false);
      if (i === 2) await age(key, '2 minutes', '2 minutes');
    }
    await age(key, '2 minutes', '10 minutes');
    const locked = await row(key);
    const refused = await attempts.reserve(key, WINDOWS);
    expect(refused.locked).toBe(true);
    expect(refused.retryMs).toBeGreaterThan(49 * 60_000);
    expect(refused.retryMs).toBeLessThanOrEqual(50 * 60_000);
    // Waiting out the short window changed nothing: it was not restarted, nothing was counted.
    expect(await row(key)).toMatchObject({ attempts: locked.attempts, window: locked.window });

    await age(key, '2 minutes', '61 minutes');
    expect(await attempts.reserve(key, WINDOWS)).toMatchObject({
      locked: false,
      attempts: 1,
      dayFailures: 1,
    });
  });

  it('gives a slot back only in the window it was taken in, never below zero', async () => {
    const key = newKey();
    const first = await attempts.reserve(key, WINDOWS);
    await attempts.release(key, first);
    await attempts.release(key, first);
    expect(await row(key)).toMatchObject({ attempts: 0, day_failures: 0 });

    const old = await attempts.reserve(key, WINDOWS);
    await age(key, '61 seconds');
    await attempts.reserve(key, WINDOWS); // a new short window, the same day
    await attempts.release(key, old);
    expect(await row(key)).toMatchObject({ attempts: 1, day_failures: 1 });
  });

  it('forgets one account entirely, and no other', async () => {
    const [key, other] = [newKey(), newKey()];
    for (let i = 0; i < 4; i++) await attempts.reserve(key, WINDOWS);
    await attempts.reserve(other, WINDOWS);
    await attempts.delete(key);
    expect(await row(key)).toBeUndefined();
    expect((await attempts.reserve(key, WINDOWS)).locked).toBe(false);
    expect((await row(other)).attempts).toBe(1);
  });

  it('deletes, a batch at a time, only the rows whose short and day windows have both closed', async () => {
    await dataSource().query('DELETE FROM login_attempts');
    const closed = [newKey(), newKey(), newKey()];
    const dayOpen = newKey();
    const open = newKey();
    for (const key of [...closed, dayOpen, open]) await attempts.reserve(key, WINDOWS);
    for (const key of closed) await age(key, '61 seconds', '61 minutes');
    await age(dayOpen, '61 seconds', '59 minutes');

    const { windowMs, dayMs } = WINDOWS;
    expect(await attempts.deleteClosed(windowMs, dayMs, 2)).toBe(2);
    expect(await attempts.deleteClosed(windowMs, dayMs, 2)).toBe(1);
    expect(await attempts.deleteClosed(windowMs, dayMs, 2)).toBe(0);
    const left = await dataSource().query<{ account_key: string }[]>(
      'SELECT account_key FROM login_attempts',
    );
    expect(left.map((r) => r.account_key).sort()).toEqual([dayOpen, open].sort());
  });
});
