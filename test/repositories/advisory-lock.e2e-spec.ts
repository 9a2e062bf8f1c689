import {
  lockUntilTransactionEnds,
  tryAdvisoryLock,
  withAdvisoryLock,
} from '../../src/database/advisory-lock';
import { settlesWithin, useTestDataSource } from './repository-database';

const KEY = 4_242_000_001;

describe('advisory locks', () => {
  const dataSource = useTestDataSource();

  /** Holds the lock from another session until `release` is called. */
  const holdElsewhere = async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let taken!: () => void;
    const isTaken = new Promise<void>((resolve) => (taken = resolve));
    const holder = withAdvisoryLock(dataSource(), KEY, async () => {
      taken();
      await released;
    });
    await isTaken;
    return {
      release: async () => {
        release();
        await holder;
      },
    };
  };
  /** Advisory locks any session holds on this test's database (pg_locks covers the whole server). */
  const locksHeld = async () =>
    (
      await dataSource().query<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'
           AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      )
    )[0].n;

  it('runs the work and hands back its result while nobody else holds the lock', async () => {
    const held = () => locksHeld();
    expect(await tryAdvisoryLock(dataSource(), KEY, held)).toBe(1);
    expect(await withAdvisoryLock(dataSource(), KEY, held)).toBe(1);
    expect(await locksHeld()).toBe(0);
  });

  it('does not run the work, and answers null, while another session holds the lock', async () => {
    const other = await holdElsewhere();
    let ran = false;
    expect(await tryAdvisoryLock(dataSource(), KEY, () => Promise.resolve((ran = true)))).toBeNull();
    expect(ran).toBe(false);
    await other.release();
    expect(await tryAdvisoryLock(dataSource(), KEY, () => Promise.resolve('now'))).toBe('now');
  });

  it('makes a second holder wait for the first', async () => {
    const first = await holdElsewhere();
    const second = withAdvisoryLock(dataSource(), KEY, () => Promise.resolve('second'));
    expect(await settlesWithin(second, 300)).toBe(false);
    await first.release();
    expect(await second).toBe('second');
  });

  it('gives the lock back when the work fails, with the work’s error', async () => {
    await expect(
      tryAdvisoryLock(dataSource(), KEY, () => Promise.reject(new Error('work failed'))),
    ).rejects.toThrow('work failed');
    expect(await locksHeld()).toBe(0);
  });

  it('holds a transaction’s lock until the transaction ends', async () => {
    let commit!: () => void;
    const committing = new Promise<void>((resolve) => (commit = resolve));
    let taken!: () => void;
    const isTaken = new Promise<void>((resolve) => (taken = resolve));
    const transaction = dataSource().transaction(async (manager) => {
      await lockUntilTransactionEnds(manager, KEY);
      taken();
      await committing;
    });
    await isTaken;
    expect(await tryAdvisoryLock(dataSource(), KEY, () => Promise.resolve('during'))).toBeNull();
    commit();
    await transaction;
    expect(await locksHeld()).toBe(0);
    expect(await tryAdvisoryLock(dataSource(), KEY, () => Promise.resolve('after'))).toBe('after');
  });
});
