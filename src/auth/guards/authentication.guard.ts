import {
  type CanActivate,
  type ExecutionContext,
  ForbiddenException,
  Inject,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { UserCache } from '../../users/user-cache';
import { ApiKeysService } from '../api-keys/api-keys.service';
import type { AuthContext, AuthMethod } from '../auth-context';
import { NEEDS_RECENT_AUTHENTICATION } from '../../common/recent-authentication.decorator';
import { AUTH_OPTIONS, type AuthOptions } from '../auth.options';
import { Reauthentication } from '../reauthentication.service';
import { ALLOWS_UNVERIFIED } from '../decorators/allow-unverified.decorator';
import { AUTH_METHODS } from '../decorators/auth.decorator';
import { IS_PUBLIC } from '../decorators/public.decorator';
import { CsrfService } from '../session/csrf.service';
import { JwtAuthGuard } from './jwt-auth.guard';
import { RouteMetadata } from '../../common/route-metadata';

const BEARER = /^bearer(?:\s|$)/i;
export const EMAIL_NOT_VERIFIED =
  'Email address not verified: follow the link mailed to you, or ask for a new one (POST /api/auth/email/verification)';

/**
 * The one global guard. Per request: an `Authorization: Bearer` header means a JWT;
 * otherwise an `X-API-Key` header an API key; otherwise a signed-in session cookie;
 * otherwise 401. `@Public()` opts a route
 * out, `@Auth(method)` limits it to one method. Cookie requests with an unsafe
 * method must also pass the CSRF check (403). With EMAIL_VERIFICATION=required, an
 * unverified user gets 403 everywhere but on `@AllowUnverified()` routes; a
 * `@RecentAuthentication()` route needs a factor proved within REAUTH_MAX_AGE_SECONDS.
 */
@Injectable()
export class AuthenticationGuard implements CanActivate {
  private readonly routes = new RouteMetadata((targets) => ({
    isPublic: this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets) ?? false,
    allowed: this.reflector.getAllAndOverride<AuthMethod[] | undefined>(AUTH_METHODS, targets),
    allowsUnverified: this.reflector.getAllAndOverride<boolean>(ALLOWS_UNVERIFIED, targets) ?? false,
    needsRecent: this.reflector.getAllAndOverride<boolean>(NEEDS_RECENT_AUTHENTICATION, targets) ?? false,
  }));

  constructor(
    private readonly reflector: Reflector,
    private readonly jwt: JwtAuthGuard,
    private readonly users: UserCache,
    private readonly csrf: CsrfService,
    @Inject(AUTH_OPTIONS) private readonly options: AuthOptions,
    private readonly reauth: Reauthentication,
    private readonly apiKeys: ApiKeysService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const route = this.routes.of(context);
    if (route.isPublic) return true;

    const req = context.switchToHttp().getRequest<Request>();
    const apiKey = req.headers['x-api-key'];
    const method: AuthMethod | undefined = BEARER.test(req.headers.authorization ?? '')
      ? 'jwt'
      : apiKey !== undefined
        ? 'apikey'
        : req.session?.userId
          ? 'session'
          : undefined;
    if (!method) throw new UnauthorizedException('Authentication required');
    const { allowed } = route;
    if (allowed && !allowed.includes(method))
      throw new UnauthorizedException(`This route needs ${allowed.join(' or ')} authentication`);

    req.auth =
      method === 'jwt'
        ? await this.jwt.authenticate(req, context.switchToHttp().getResponse<Response>())
        : method === 'apikey'
          ? await this.apiKeys.authenticate(req, typeof apiKey === 'string' ? apiKey : '')
          : await this.viaSession(req);
    if (
      this.options.account.emailVerification === 'required' &&
      !req.auth.user.emailVerified &&
      !route.allowsUnverified
    )
      throw new ForbiddenException(EMAIL_NOT_VERIFIED);
    if (route.needsRecent) await this.reauth.requireRecent(req);
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
