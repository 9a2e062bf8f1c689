import { type ExecutionContext, Injectable } from '@nestjs/common';
import { AuthGuard } from '@nestjs/passport';
import type { Request } from 'express';
import { validateBody } from '../../common/validation';
import { CredentialsDto } from '../dto/credentials.dto';

/**
 * passport-local for the login endpoints. The body is validated first, because
 * guards run before pipes: a malformed body is a 400 listing its faults, and
 * passport never falls back to credentials in the query string.
 */
@Injectable()
export class LocalAuthGuard extends AuthGuard('local') {
  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<Request>();
    req.body = await validateBody(CredentialsDto, req.body);
    return (await super.canActivate(context)) as boolean;
  }
}
