import { Injectable } from '@nestjs/common';
import * as bcrypt from 'bcrypt';
import { AppConfig } from '../config/app-config';

/** The one place passwords are hashed and checked. */
@Injectable()
export class PasswordService {
  constructor(private readonly config: AppConfig) {}

  hash(password: string): Promise<string> {
    return bcrypt.hash(password, this.config.bcryptCost);
  }

  verify(password: string, hash: string): Promise<boolean> {
    return bcrypt.compare(password, hash);
  }

  /** True when the hash was made with another cost than the configured one. */
  needsRehash(hash: string): boolean {
    return bcrypt.getRounds(hash) !== this.config.bcryptCost;
  }
}
