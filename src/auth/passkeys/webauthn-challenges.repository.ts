import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { tableOf } from '../../database/table-name';
import { WebAuthnChallenge, type WebAuthnPurpose } from './webauthn-challenge.entity';

/** The `webauthn_challenges` table. */
@Injectable()
export class WebAuthnChallengesRepository {
  constructor(private readonly dataSource: DataSource) {}

  private get table(): string {
    return tableOf(this.dataSource, WebAuthnChallenge);
  }

  async create(
    challenge: string,
    purpose: WebAuthnPurpose,
    userId: string | null,
    ttlMs: number,
  ): Promise<void> {
    await this.dataSource.manager.insert(WebAuthnChallenge, {
      challenge,
      purpose,
      userId,
      expiresAt: () => `now() + ${Math.round(ttlMs)} * interval '1 millisecond'`,
    });
  }

  /**
   * Spends the challenge if it was handed out for `purpose` and has not expired: the
   * user it was bound to (null for a discoverable sign-in); undefined when it cannot be
   * used. Atomic: of two responses to one challenge, one wins.
   */
  async consume(challenge: string, purpose: WebAuthnPurpose): Promise<{ userId: string | null } | undefined> {
    const [rows] = await this.dataSource.query<[{ user_id: string | null }[], number]>(
      `DELETE FROM ${this.table} WHERE challenge = $1 AND purpose = $2 AND expires_at > now() RETURNING user_id`,
      [challenge, purpose],
    );
    return rows[0] ? { userId: rows[0].user_id } : undefined;
  }

  async deleteExpired(batch: number, manager: EntityManager): Promise<number> {
    const [, deleted] = await manager.query<[unknown[], number]>(
      `DELETE FROM ${this.table} WHERE challenge IN (
         SELECT challenge FROM ${this.table} WHERE expires_at < now() LIMIT $1)`,
      [batch],
    );
    return deleted;
  }
}
