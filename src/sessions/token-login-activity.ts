import { Injectable, Logger } from '@nestjs/common';
import { BoundedMap } from '../common/bounded-map';
import { TokenLoginsRepository } from './token-logins.repository';

const WRITE_INTERVAL_MS = 60_000;

/**
 * Keeps `last_used_at` of token logins fresh without a write per bearer request:
 * at most one write per login per minute, off the request's path.
 */
@Injectable()
export class TokenLoginActivity {
  private readonly logger = new Logger(TokenLoginActivity.name);
  private readonly lastWritten = new BoundedMap<string, number>(200_000);

  constructor(private readonly logins: TokenLoginsRepository) {}

  touch(loginId: string): void {
    const now = Date.now();
    if (now - (this.lastWritten.get(loginId) ?? 0) < WRITE_INTERVAL_MS) return;
    this.lastWritten.set(loginId, now);
    this.logins
      .markUsed(loginId)
      .catch((error: Error) => this.logger.warn(`Could not record token login use: ${error.message}`));
  }
}
