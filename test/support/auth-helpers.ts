import type TestAgent from 'supertest/lib/agent';

export const PASSWORD = 'correct horse battery';

let counter = 0;
/** A unique email per call, so tests in one file never collide. */
export function uniqueEmail(prefix = 'user'): string {
  return `${prefix}-${Date.now().toString(36)}-${counter++}@example.com`;
}

export interface SignedUp {
  id: string;
  email: string;
  password: string;
}

export async function signUp(http: () => TestAgent, email = uniqueEmail()): Promise<SignedUp> {
  const res = await http().post('/api/auth/signup').send({ email, password: PASSWORD }).expect(201);
  return { id: (res.body as { id: string }).id, email, password: PASSWORD };
}

export interface CookieLogin {
  cookie: string;
  csrfToken: string;
}

/** Signs in by cookie session; returns the cookie pair ("sid=...") and the CSRF token. */
export async function sessionLogin(
  http: () => TestAgent,
  user: { email: string; password: string },
): Promise<CookieLogin> {
  const res = await http()
    .post('/api/auth/session')
    .send({ email: user.email, password: user.password })
    .expect(200);
  return {
    cookie: sessionCookie(res.headers['set-cookie']),
    csrfToken: (res.body as { csrfToken: string }).csrfToken,
  };
}

export interface TokenLogin {
  accessToken: string;
  refreshToken: string;
}

export async function tokenLogin(
  http: () => TestAgent,
  user: { email: string; password: string },
): Promise<TokenLogin> {
  const res = await http()
    .post('/api/auth/token')
    .send({ email: user.email, password: user.password })
    .expect(200);
  return res.body as TokenLogin;
}

/** The "name=value" part of the first Set-Cookie header. */
export function sessionCookie(setCookie: string | string[] | undefined): string {
  const header = Array.isArray(setCookie) ? setCookie[0] : setCookie;
  if (!header) throw new Error('no Set-Cookie header');
  return header.split(';')[0];
}

export function decodeJwtPart(token: string, index: 0 | 1): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[index], 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
