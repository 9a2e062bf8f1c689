import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { CaptchaService } from './captcha.service';

/** See @CaptchaProtected(). */
@Injectable()
export class CaptchaGuard implements CanActivate {
  constructor(private readonly captcha: CaptchaService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    await this.captcha.verify(context.switchToHttp().getRequest<Request>());
    return true;
  }
}
