import { type CanActivate, type ExecutionContext, Injectable, UnauthorizedException } from '@nestjs/common';
import type { Request, Response } from 'express';
import { validateBody } from '../../common/validation';
import type { User } from '../../users/user.entity';
import { CredentialsDto } from '../dto/credentials.dto';
import { INVALID_CREDENTIALS, LocalStrategy } from '../strategies/local.strategy';
import { runStrategy } from '../strategies/run-strategy';

/**
 * passport-local for the login endpoints. The body is validated first, because
 * guards run before pipes: a malformed body is a 400 listing its faults, and
 * passport never falls back to credentials in the query string.
 */
@Injectable()
export class LocalAuthGuard implements CanActivate {
  constructor(private readonly strategy: LocalStrategy) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const http = context.switchToHttp();
    const req = http.getRequest<Request>();
    req.body = await validateBody(CredentialsDto, req.body);
    const { error, user } = await runStrategy<User>(this.strategy, req, http.getResponse<Response>());
    if (error) throw error as Error;
    if (!user) throw new UnauthorizedException(INVALID_CREDENTIALS);
    req.user = user;
    return true;
  }
}
