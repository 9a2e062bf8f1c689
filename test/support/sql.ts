import { Client } from 'pg';
import { sleep } from './auth-helpers';

/** One query on the test's database, on a connection of its own (to look behind the API, or to age a row). */
export async function sql<T extends Record<string, unknown>>(
  url: string,
  text: string,
  values: unknown[] = [],
): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

/** Retries `check` until it passes, for at most `timeoutMs` (for what other instances learn from the feed). */
export async function within<T>(timeoutMs: number, check: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(25);
    }
  }
}
