import { Injectable, UnauthorizedException } from '@nestjs/common';
import { AuthGuard } from '@nestjs/passport';
import { INVALID_ACCESS_TOKEN } from '../strategies/jwt.strategy';

/** passport-jwt, with one fixed 401 message whatever the fault (no library text reaches the client). */
@Injectable()
export class JwtAuthGuard extends AuthGuard('jwt') {
  override handleRequest<T>(error: unknown, result: T | false): T {
    if (error instanceof UnauthorizedException) throw error;
    if (error || !result) throw new UnauthorizedException(INVALID_ACCESS_TOKEN);
    return result;
  }
}
