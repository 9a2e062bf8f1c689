import type { Request } from 'express';
import { hashSessionId } from './session.store';
import type { CurrentSignIn } from './sign-ins.service';

/** The sign-in an authenticated request was made with. */
export function currentSignIn(req: Request): CurrentSignIn {
  const auth = req.auth!;
  return auth.method === 'session'
    ? { method: 'session', sessionHash: hashSessionId(req.sessionID) }
    : { method: 'jwt', loginId: auth.loginId };
}
