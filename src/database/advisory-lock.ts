import type { DataSource, EntityManager, QueryRunner } from 'typeorm';

/**
 * PostgreSQL advisory locks: one thing at a time across every instance. The keys are
 * constants shared by all of them, chosen by the caller.
 */

/** Runs `work` on one connection while it holds the lock `key`, waiting its turn. */
export function withAdvisoryLock<T>(
  dataSource: DataSource,
  key: number,
  work: (manager: EntityManager) => Promise<T>,
): Promise<T> {
  return onOneConnection(dataSource, async (runner) => {
    await runner.query('SELECT pg_advisory_lock($1)', [key]);
    return holding(runner, key, work);
  });
}

/** As `withAdvisoryLock`, but null at once, without running `work`, while another session holds it. */
export function tryAdvisoryLock<T>(
  dataSource: DataSource,
  key: number,
  work: (manager: EntityManager) => Promise<T>,
): Promise<T | null> {
  return onOneConnection(dataSource, async (runner) => {
    const [{ locked }] = (await runner.query('SELECT pg_try_advisory_lock($1) AS locked', [key])) as {
      locked: boolean;
    }[];
    return locked ? holding(runner, key, work) : null;
  });
}

/**
 * Takes the lock `key` until the transaction `manager` runs in ends, waiting its turn.
 * With `subject` (a user id, say), the lock is that subject's within the space `key`
 * (a 32-bit number): one thing at a time per subject. The two kinds never collide.
 */
export async function lockUntilTransactionEnds(
  manager: EntityManager,
  key: number,
  subject?: string,
): Promise<void> {
  if (subject === undefined) await manager.query('SELECT pg_advisory_xact_lock($1)', [key]);
  else await manager.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [key, subject]);
}

async function onOneConnection<T>(dataSource: DataSource, work: (runner: QueryRunner) => Promise<T>) {
  const runner = dataSource.createQueryRunner();
  try {
    return await work(runner);
  } finally {
    await runner.release();
  }
}

/**
 * Runs `work`, then gives the lock back: the connection returns to the pool, and would
 * still hold it. A failed unlock never hides why `work` failed.
 */
async function holding<T>(
  runner: QueryRunner,
  key: number,
  work: (manager: EntityManager) => Promise<T>,
): Promise<T> {
  let result: T;
  try {
    result = await work(runner.manager);
  } catch (error) {
    await runner.query('SELECT pg_advisory_unlock($1)', [key]).catch(() => undefined);
    throw error;
  }
  await runner.query('SELECT pg_advisory_unlock($1)', [key]);
  return result;
}
