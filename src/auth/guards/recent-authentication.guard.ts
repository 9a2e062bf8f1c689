import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { Reauthentication } from '../reauthentication.service';

/** Runs after the global guards (the caller is known): see @RecentAuthentication(). */
@Injectable()
export class RecentAuthenticationGuard implements CanActivate {
  constructor(private readonly reauth: Reauthentication) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    await this.reauth.requireRecent(context.switchToHttp().getRequest<Request>());
    return true;
  }
}
