import { loadConfig } from '../config/app-config';
import { BREACHED_PASSWORD_COUNT, isBreachedPassword, loadBreachedPasswords } from './breached-passwords';
import { PasswordPolicy } from './password-policy';

const BREACHED = 'password is one of the most common breached passwords; choose another';

describe('PasswordPolicy: common and breached passwords', () => {
  const policy = new PasswordPolicy(loadConfig({}));

  it('holds the 100,000 most common breached passwords, most common first', () => {
    const list = loadBreachedPasswords(BREACHED_PASSWORD_COUNT);
    expect(BREACHED_PASSWORD_COUNT).toBeGreaterThanOrEqual(100_000);
    expect(list.size).toBe(BREACHED_PASSWORD_COUNT);
    expect([...loadBreachedPasswords(3)]).toEqual(['123456', 'password', '12345678']);
  });

  it.each([['password1234'], ['qwerty123456'], ['iloveyou'], ['12345678']])(
    'refuses the listed password %j, saying why',
    (password) => {
      expect(policy.problems(password, 'password')).toEqual([BREACHED]);
    },
  );

  it.each([
    ['upper case', 'PASSWORD1234'],
    ['mixed case', 'QwErTy123456'],
    ['full-width (NFKC)', 'ｐａｓｓｗｏｒｄ１２３４'],
    ['full-width upper case (NFKC)', 'ＱＷＥＲＴＹ１２３４５６'],
  ])('refuses a listed password written in %s', (_variant, password) => {
    expect(policy.problems(password, 'newPassword')).toEqual([
      'newPassword is one of the most common breached passwords; choose another',
    ]);
  });

  it('matches whole passwords only: a listed password inside a longer one is not a match', () => {
    expect(isBreachedPassword('password1234')).toBe(true);
    expect(isBreachedPassword('password1234 is what I used to use')).toBe(false);
    expect(policy.problems('password1234 is what I used to use', 'password')).toEqual([]);
  });

  it('reports a too-short listed password by its length, the first rule', () => {
    expect(policy.problems('123456', 'password')).toEqual(['password must be at least 8 characters long']);
  });

  it('still refuses what zxcvbn finds guessable but the list does not hold', () => {
    expect(isBreachedPassword('iloveyouiloveyou')).toBe(false);
    expect(policy.problems('iloveyouiloveyou', 'password')).toEqual([
      expect.stringMatching(/^password is too common or too easy to guess: \S/),
    ]);
  });

  it('accepts a strong passphrase', () => {
    expect(policy.problems('purple monkey dishwasher', 'password')).toEqual([]);
  });
});
