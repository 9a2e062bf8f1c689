import {
  type ExecutionContext,
  HttpException,
  Injectable,
  Logger,
  UnauthorizedException,
} from '@nestjs/common';
import { AuthGuard } from '@nestjs/passport';
import { isDatabaseUnavailable } from '../../database/postgres-errors';
import { INVALID_ACCESS_TOKEN } from '../strategies/jwt.strategy';

/**
 * passport-jwt, with one fixed 401 message for every fault of the token: no library
 * text reaches the client. Only the database being unreachable while a well-formed
 * token is checked is not the client's fault; it goes on to the filter as a 503.
 */
@Injectable()
export class JwtAuthGuard extends AuthGuard('jwt') {
  private readonly logger = new Logger(JwtAuthGuard.name);

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    try {
      return (await super.canActivate(context)) as boolean;
    } catch (error) {
      if (error instanceof HttpException || isDatabaseUnavailable(error)) throw error;
      // jsonwebtoken throws outside passport's callbacks on some hostile payloads (`null`).
      this.logger.warn(`Access token rejected by an exception: ${(error as Error).message}`);
      throw new UnauthorizedException(INVALID_ACCESS_TOKEN);
    }
  }

  override handleRequest<T>(error: unknown, result: T | false): T {
    if (error) throw error as Error;
    if (!result) throw new UnauthorizedException(INVALID_ACCESS_TOKEN);
    return result;
  }
}
