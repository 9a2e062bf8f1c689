import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { BoundedMap } from '../common/bounded-map';
import { TokenLogin } from './token-login.entity';

const WRITE_INTERVAL_MS = 60_000;

/**
 * Keeps `last_used_at` of token logins fresh without a write per bearer request:
 * at most one write per login per minute, off the request's path.
 */
@Injectable()
export class TokenLoginActivity {
  private readonly logger = new Logger(TokenLoginActivity.name);
  private readonly lastWritten = new BoundedMap<string, number>(200_000);

  constructor(@InjectRepository(TokenLogin) private readonly logins: Repository<TokenLogin>) {}

  touch(loginId: string): void {
    const now = Date.now();
    if (now - (this.lastWritten.get(loginId) ?? 0) < WRITE_INTERVAL_MS) return;
    this.lastWritten.set(loginId, now);
    this.logins
      .update({ id: loginId }, { lastUsedAt: new Date(now) })
      .catch((error: Error) => this.logger.warn(`Could not record token login use: ${error.message}`));
  }
}
