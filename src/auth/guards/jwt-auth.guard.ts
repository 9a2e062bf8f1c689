import { HttpException, Injectable, Logger, UnauthorizedException } from '@nestjs/common';
import type { Request, Response } from 'express';
import { isDatabaseUnavailable } from '../../database/postgres-errors';
import type { AuthContext } from '../auth-context';
import { INVALID_ACCESS_TOKEN, JwtStrategy } from '../strategies/jwt.strategy';
import { runStrategy } from '../strategies/run-strategy';

/**
 * passport-jwt, with one fixed 401 message for every fault of the token: no library
 * text reaches the client. Only the database being unreachable while a well-formed
 * token is checked is not the client's fault; it goes on to the filter as a 503.
 */
@Injectable()
export class JwtAuthGuard {
  private readonly logger = new Logger(JwtAuthGuard.name);

  constructor(private readonly strategy: JwtStrategy) {}

  async authenticate(req: Request, res: Response): Promise<AuthContext> {
    let outcome;
    try {
      outcome = await runStrategy<AuthContext>(this.strategy, req, res);
    } catch (error) {
      // jsonwebtoken throws outside passport's callbacks on some hostile payloads (`null`).
      this.logger.warn(`Access token rejected by an exception: ${(error as Error).message}`);
      throw new UnauthorizedException(INVALID_ACCESS_TOKEN);
    }
    const { error, user } = outcome;
    if (error instanceof HttpException || isDatabaseUnavailable(error)) throw error;
    if (error) {
      this.logger.warn(`Access token rejected by an exception: ${(error as Error).message}`);
      throw new UnauthorizedException(INVALID_ACCESS_TOKEN);
    }
    if (!user) throw new UnauthorizedException(INVALID_ACCESS_TOKEN);
    return user;
  }
}
