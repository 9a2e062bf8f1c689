import {
  type CanActivate,
  type ExecutionContext,
  Injectable,
  UnsupportedMediaTypeException,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { validateBody } from '../../common/validation';
import { CredentialsDto } from '../dto/credentials.dto';
import { PasswordLogin } from '../password-login.service';

/**
 * Email and password for the JSON login endpoints. The body is validated here,
 * because guards run before pipes: a malformed body is a 400 listing its faults,
 * and passport never falls back to credentials in the query string.
 */
@Injectable()
export class LocalAuthGuard implements CanActivate {
  constructor(private readonly login: PasswordLogin) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const http = context.switchToHttp();
    const req = http.getRequest<Request>();
    // Login CSRF: a cross-site HTML form can post urlencoded credentials (and the
    // answer's Set-Cookie would sign the victim into the attacker's account), but it
    // cannot send JSON without a CORS preflight, which other origins fail.
    if (!req.is('application/json'))
      throw new UnsupportedMediaTypeException('Send the credentials as application/json');
    const credentials = await validateBody(CredentialsDto, req.body);
    req.user = await this.login.authenticate(req, http.getResponse<Response>(), credentials);
    return true;
  }
}
