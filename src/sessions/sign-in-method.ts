/** How a sign-in authenticates its requests: a cookie session, or a token login's bearer tokens. */
export type SignInMethod = 'session' | 'jwt';
