/**
 * Where to go after signing in: a local path only. `//host`, `/\host` (browsers
 * read backslashes as slashes), schemes and control characters all fall back, so
 * `next` can never send a user off-site (no open redirect).
 */
export function safeNext(next: unknown, fallback = '/profile'): string {
  if (typeof next !== 'string' || next.length > 2048) return fallback;
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  if (!next.startsWith('/') || next.startsWith('//') || /[\\\u0000-\u001f\u007f]/.test(next)) return fallback;
  return next;
}
