import {
  type CanActivate,
  type ExecutionContext,
  ForbiddenException,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { UserCache } from '../../users/user-cache';
import type { SignInMethod } from '../../sessions/sign-in-method';
import type { AuthContext } from '../auth-context';
import { AUTH_METHODS } from '../decorators/auth.decorator';
import { IS_PUBLIC } from '../decorators/public.decorator';
import { CsrfService } from '../session/csrf.service';
import { JwtAuthGuard } from './jwt-auth.guard';

const BEARER = /^bearer(?:\s|$)/i;

/**
 * The one global guard. Per request: an `Authorization: Bearer` header means a JWT;
 * otherwise a signed-in session cookie; otherwise 401. `@Public()` opts a route
 * out, `@Auth(method)` limits it to one method. Cookie requests with an unsafe
 * method must also pass the CSRF check (403).
 */
@Injectable()
export class AuthenticationGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly jwt: JwtAuthGuard,
    private readonly users: UserCache,
    private readonly csrf: CsrfService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;

    const req = context.switchToHttp().getRequest<Request>();
    const method: SignInMethod | undefined = BEARER.test(req.headers.authorization ?? '')
      ? 'jwt'
      : req.session?.userId
        ? 'session'
        : undefined;
    if (!method) throw new UnauthorizedException('Authentication required');
    const allowed = this.reflector.getAllAndOverride<SignInMethod[]>(AUTH_METHODS, targets);
    if (allowed && !allowed.includes(method))
      throw new UnauthorizedException(`This route needs ${allowed.join(' or ')} authentication`);

    req.auth =
      method === 'jwt'
        ? await this.jwt.authenticate(req, context.switchToHttp().getResponse<Response>())
        : await this.viaSession(req);
    return true;
  }

  private async viaSession(req: Request): Promise<AuthContext> {
    const userId = req.session.userId!;
    const user = this.users.peek(userId) ?? (await this.users.get(userId));
    // Sessions from before the credential version existed count as version 0, like their users.
    if (!user || user.disabled || (req.session.credentialVersion ?? 0) !== user.credentialVersion) {
      await new Promise<void>((resolve) => req.session.destroy(() => resolve()));
      throw new UnauthorizedException('Session has ended');
    }
    if (!this.csrf.isSatisfied(req)) throw new ForbiddenException('Missing or invalid CSRF token');
    return { user, method: 'session' };
  }
}
