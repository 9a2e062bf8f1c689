import { readdirSync, readFileSync } from 'node:fs';
import { BcryptPool } from './bcrypt-pool';

/** The nice value of each thread of this process (Linux). */
function niceByThread(): Map<number, number> {
  const result = new Map<number, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    const fields = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ');
    result.set(Number(tid), Number(fields[16]));
  }
  return result;
}

describe('BcryptPool', () => {
  let pool: BcryptPool;
  beforeEach(() => (pool = new BcryptPool(2)));
  afterEach(() => pool.close());

  it('hashes and compares on its worker threads', async () => {
    const hash = await pool.hash('secret', 4);
    expect(hash).toMatch(/^\$2b\$04\$/);
    await expect(pool.compare('secret', hash)).resolves.toBe(true);
    await expect(pool.compare('other', hash)).resolves.toBe(false);
    const [a, b] = await Promise.all([pool.compare('secret', hash), pool.compare('other', hash)]);
    expect([a, b]).toEqual([true, false]);
  });

  it('passes a bcrypt error back as a rejection, and keeps working', async () => {
    await expect(pool.hash('secret', 99)).rejects.toThrow();
    await expect(pool.hash('secret', 4)).resolves.toMatch(/^\$2b\$04\$/);
  });

  it('fails a call in flight when the pool is closed, instead of leaving it hanging', async () => {
    const pending = pool.hash('secret', 14);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await pool.close();
    await expect(pending).rejects.toThrow('bcrypt worker stopped');
  });

  (process.platform === 'linux' ? it : it.skip)(
    'runs bcrypt below the priority of the event loop, which keeps its own',
    async () => {
      const before = niceByThread();
      await Promise.all([pool.hash('a', 4), pool.hash('b', 4)]);
      const lowered = [...niceByThread()].filter(([tid, nice]) => !before.has(tid) && nice === 10);
      expect(lowered).toHaveLength(2);
      expect(niceByThread().get(process.pid)).toBe(before.get(process.pid));
      await pool.close();
      const left = [...niceByThread().keys()].filter((tid) => lowered.some(([low]) => low === tid));
      expect(left).toEqual([]);
    },
  );
});
