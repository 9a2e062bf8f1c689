import type { Request, Response } from 'express';
import passport, { Passport, type Strategy } from 'passport';

export interface StrategyOutcome<T> {
  error: unknown;
  user: T | false;
}

/**
 * Runs one passport strategy instance on a request. Strategies are looked up by
 * instance, not by name: @nestjs/passport's AuthGuard resolves names in passport's
 * process-wide registry, so with two apps in one process (tests, or an app that
 * embeds this module twice) the last app created would serve every app's logins.
 */
export function runStrategy<T>(strategy: Strategy, req: Request, res: Response): Promise<StrategyOutcome<T>> {
  return new Promise((resolve, reject) => {
    // passport attaches the request's success/fail callbacks to the object it is
    // given (it copies only strategies it looks up by name): one object per request,
    // or concurrent requests answer each other's callbacks.
    const perRequest = Object.create(strategy) as Strategy;
    const middleware = passport.authenticate(
      perRequest,
      { session: false },
      (error: unknown, user: T | false) => resolve({ error, user }),
    ) as (req: Request, res: Response, next: (error?: Error) => void) => void;
    middleware(req, res, (error) => (error ? reject(error) : resolve({ error: undefined, user: false })));
  });
}

/** Keeps PassportStrategy from registering in the process-wide registry (see runStrategy). */
export function privateRegistry(): InstanceType<typeof Passport> {
  return new Passport();
}
