import { randomBytes } from 'node:crypto';
import { QueryFailedError } from 'typeorm';
import { RefreshTokensRepository } from '../../src/auth/tokens/refresh-tokens.repository';
import { TokenLoginsRepository } from '../../src/sessions/token-logins.repository';
import { insertUser, useTestDataSource } from './repository-database';

describe('RefreshTokensRepository', () => {
  const dataSource = useTestDataSource();
  let tokens: RefreshTokensRepository;
  let loginId: string;
  beforeAll(async () => {
    tokens = new RefreshTokensRepository(dataSource());
    const userId = await insertUser(dataSource());
    const login = await new TokenLoginsRepository(dataSource()).create({
      userId,
      expiresAt: new Date(Date.now() + 3_600_000),
      credentialVersion: 0,
      ip: null,
      userAgent: null,
    });
    loginId = login.id;
  });

  const newHash = () => randomBytes(32).toString('hex');

  it('stores a token of a login, unspent, and finds it by its hash', async () => {
    const hash = newHash();
    await tokens.insert(hash, loginId);
    expect(await tokens.findByHash(hash)).toMatchObject({ tokenHash: hash, loginId, usedAt: null });
    expect(await tokens.findByHash(newHash())).toBeNull();
  });

  it('refuses a second token with the same hash', async () => {
    const hash = newHash();
    await tokens.insert(hash, loginId);
    await expect(tokens.insert(hash, loginId)).rejects.toBeInstanceOf(QueryFailedError);
  });

  it("spends a token once: its login's id the first time, nothing after, nothing for an unknown one", async () => {
    const hash = newHash();
    await tokens.insert(hash, loginId);
    expect(await tokens.spend(hash)).toBe(loginId);
    expect((await tokens.findByHash(hash))?.usedAt).toBeInstanceOf(Date);
    expect(await tokens.spend(hash)).toBeUndefined();
    expect(await tokens.spend(newHash())).toBeUndefined();
  });

  it('lets only one of two simultaneous spends of a token win', async () => {
    const hash = newHash();
    await tokens.insert(hash, loginId);
    const spends = await Promise.all([
      dataSource().transaction((manager) => tokens.spend(hash, manager)),
      dataSource().transaction((manager) => tokens.spend(hash, manager)),
    ]);
    expect(spends.filter((id) => id === loginId)).toHaveLength(1);
    expect(spends.filter((id) => id === undefined)).toHaveLength(1);
  });
});
