import { Injectable, UnauthorizedException } from '@nestjs/common';
import { AuthGuard } from '@nestjs/passport';
import { INVALID_ACCESS_TOKEN } from '../strategies/jwt.strategy';

/**
 * passport-jwt, with one fixed 401 message for every fault of the token (no library
 * text reaches the client). An error raised while checking a well-formed token
 * (the database is down) is not the client's fault and is passed on as it is.
 */
@Injectable()
export class JwtAuthGuard extends AuthGuard('jwt') {
  override handleRequest<T>(error: unknown, result: T | false): T {
    if (error) throw error;
    if (!result) throw new UnauthorizedException(INVALID_ACCESS_TOKEN);
    return result;
  }
}
