import type { SignInMethod } from '../sessions/sign-in-method';
import type { User } from '../users/user.entity';

/** Who is calling and how: set by the global AuthenticationGuard on every non-public request. */
export interface AuthContext {
  user: User;
  method: SignInMethod;
  /** The token login (refresh-token family) of a bearer request. */
  loginId?: string;
}

declare module 'express-serve-static-core' {
  interface Request {
    auth?: AuthContext;
  }
}
