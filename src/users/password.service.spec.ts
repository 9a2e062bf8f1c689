import { ServiceUnavailableException } from '@nestjs/common';
import { loadConfig } from '../config/app-config';
import { PasswordService } from './password.service';

const mockCompare = jest.fn<Promise<boolean>, [string, string]>();
// The worker threads are I/O here: each compare waits until the test finishes it.
jest.mock('./bcrypt-pool', () => ({
  BcryptPool: jest
    .fn()
    .mockImplementation(() => ({ compare: mockCompare, hash: jest.fn(), close: jest.fn() })),
}));

describe('PasswordService: bcrypt work in flight', () => {
  const compare = mockCompare;
  let running = 0;
  let mostAtOnce = 0;
  let finishers: (() => void)[] = [];

  beforeEach(() => {
    running = 0;
    mostAtOnce = 0;
    finishers = [];
    compare.mockImplementation(
      () =>
        new Promise<boolean>((resolve) => {
          running++;
          mostAtOnce = Math.max(mostAtOnce, running);
          finishers.push(() => {
            running--;
            resolve(true);
          });
        }),
    );
  });

  const service = (concurrency: number, queue: number) =>
    new PasswordService({
      ...loadConfig({ PASSWORD_PEPPER: 'p'.repeat(32), BCRYPT_COST: '4' }),
      bcryptConcurrency: concurrency,
      bcryptMaxQueue: queue,
    });
  const settle = () => new Promise((resolve) => setImmediate(resolve));

  it('runs at most BCRYPT_CONCURRENCY at once; the others wait their turn and all complete', async () => {
    const passwords = service(2, 10);
    const checks = Array.from({ length: 6 }, () => passwords.verify('pw', '$2b$04$hash'));
    await settle();
    expect(running).toBe(2);
    while (finishers.length) {
      finishers.shift()!();
      await settle();
    }
    await expect(Promise.all(checks)).resolves.toEqual(Array(6).fill(true));
    expect(mostAtOnce).toBe(2);
  });

  it('refuses with 503 beyond BCRYPT_MAX_QUEUE waiting, and accepts again once turns free up', async () => {
    const passwords = service(1, 2);
    const accepted = [1, 2, 3].map(() => passwords.verify('pw', '$2b$04$hash'));
    await expect(passwords.verify('pw', '$2b$04$hash')).rejects.toBeInstanceOf(ServiceUnavailableException);
    await settle();
    finishers.shift()!();
    await settle();
    const later = passwords.verify('pw', '$2b$04$hash');
    while (finishers.length) {
      finishers.shift()!();
      await settle();
    }
    await expect(Promise.all([...accepted, later])).resolves.toEqual([true, true, true, true]);
  });
});
