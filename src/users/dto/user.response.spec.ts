import { User } from '../user.entity';
import { UserResponse } from './user.response';

describe('UserResponse', () => {
  it('copies the public fields only, whatever else the entity carries', () => {
    const user = Object.assign(new User(), {
      id: '5b0a3f52-0c7e-4c38-9a57-7f0f1f3f3f3f',
      email: 'ada@example.com',
      name: 'Ada',
      passwordHash: '$2b$12$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234',
      disabled: false,
      totpEnabled: true,
      passkeyCount: 0,
      roles: [{ name: 'user' }, { name: 'admin' }],
      createdAt: new Date('2026-01-02T03:04:05.000Z'),
      updatedAt: new Date(),
    });
    const response = UserResponse.from(user);
    expect(Object.keys(response).sort()).toEqual([
      'createdAt',
      'disabled',
      'email',
      'emailVerified',
      'id',
      'mfa',
      'name',
      'roles',
    ]);
    expect(response.roles).toEqual(['admin', 'user']);
    expect(response.mfa).toEqual({ totp: true, passkeys: false });
    expect(response.createdAt).toBe('2026-01-02T03:04:05.000Z');
    expect(JSON.stringify(response)).not.toContain('$2b$');
  });
});
