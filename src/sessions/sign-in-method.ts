/** How a sign-in authenticates its requests: a cookie session, or a token login's bearer tokens. */
export type SignInMethod = 'session' | 'jwt';

/** Live sign-ins (cookie sessions and token logins together) one user has at most: a new one ends the least recently used. */
export const MAX_SIGN_INS_PER_USER = 100;
