import type { SignInMethod } from '../sessions/sign-in-method';
import type { User } from '../users/user.entity';

/** How a request authenticated: a sign-in (cookie session, bearer token) or an API key. */
export type AuthMethod = SignInMethod | 'apikey';

/** Who is calling and how: set by the global AuthenticationGuard on every non-public request. */
export interface AuthContext {
  /** For an API key: the owner with only the key's roles that the owner still holds. */
  user: User;
  method: AuthMethod;
  /** The token login (refresh-token family) of a bearer request. */
  loginId?: string;
  /** The key of an API-key request. */
  apiKeyId?: string;
}

declare module 'express-serve-static-core' {
  interface Request {
    auth?: AuthContext;
  }
}
