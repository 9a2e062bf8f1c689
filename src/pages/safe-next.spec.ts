import { safeNext } from './safe-next';

describe('safeNext', () => {
  it.each([['/profile'], ['/sessions?x=1'], ['/admin/users?q=a%2Fb']])('keeps the local path %s', (path) => {
    expect(safeNext(path)).toBe(path);
  });

  it.each([
    ['//evil.example'],
    ['/\\evil.example'],
    ['/\\/evil.example'],
    ['https://evil.example'],
    ['javascript:alert(1)'],
    ['evil.example'],
    ['/\tprofile'],
    ['/profile\r\nLocation: https://evil.example'],
    [''],
    [undefined],
    [['/a', '/b']],
    ['/'.padEnd(3000, 'a')],
  ])('refuses %j', (next) => {
    expect(safeNext(next)).toBe('/profile');
  });
});
