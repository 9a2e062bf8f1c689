import { SecretBox } from './secret-box';

describe('SecretBox', () => {
  const box = new SecretBox('a configured secret of some length', 'totp');

  it('opens what it sealed, and never seals the same text the same way twice', () => {
    const a = box.seal('JBSWY3DPEHPK3PXP');
    const b = box.seal('JBSWY3DPEHPK3PXP');
    expect(a).not.toBe(b);
    expect(a).not.toContain('JBSWY3DPEHPK3PXP');
    expect(box.open(a)).toBe('JBSWY3DPEHPK3PXP');
    expect(box.open(b)).toBe('JBSWY3DPEHPK3PXP');
  });

  it('refuses a box sealed for another purpose or under another secret', () => {
    const sealed = box.seal('seed');
    expect(() => new SecretBox('a configured secret of some length', 'signing-keys').open(sealed)).toThrow();
    expect(() => new SecretBox('another secret', 'totp').open(sealed)).toThrow();
  });

  it('refuses an altered box', () => {
    const [version, iv, tag, data] = box.seal('seed').split('.');
    const flipped = Buffer.from(data, 'base64url');
    flipped[0] ^= 1;
    expect(() => box.open([version, iv, tag, flipped.toString('base64url')].join('.'))).toThrow();
    expect(() => box.open('v1.garbage')).toThrow('Not a sealed secret');
  });
});
