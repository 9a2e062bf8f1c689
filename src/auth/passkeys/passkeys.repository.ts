import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { tableOf } from '../../database/table-name';
import { Passkey } from './passkey.entity';

export interface NewPasskey {
  userId: string;
  credentialId: string;
  publicKey: Buffer;
  counter: number;
  transports: string[];
  name: string;
  backedUp: boolean;
}

/** The `passkeys` table. */
@Injectable()
export class PasskeysRepository {
  constructor(private readonly dataSource: DataSource) {}

  private get table(): string {
    return tableOf(this.dataSource, Passkey);
  }

  async create(passkey: NewPasskey, manager: EntityManager): Promise<Passkey> {
    const { identifiers } = await manager.insert(Passkey, { ...passkey, counter: String(passkey.counter) });
    return manager.findOneByOrFail(Passkey, { id: (identifiers[0] as { id: string }).id });
  }

  findOfUser(userId: string): Promise<Passkey[]> {
    return this.dataSource.manager.find(Passkey, { where: { userId }, order: { createdAt: 'ASC' } });
  }

  findByCredentialId(credentialId: string): Promise<Passkey | null> {
    return this.dataSource.manager.findOneBy(Passkey, { credentialId });
  }

  /**
   * Records a use: the new signature counter, if it moved forward (or both are 0: an
   * authenticator without a counter); false when it did not, which means a cloned key
   * or a replay raced this one.
   */
  async recordUse(id: string, oldCounter: string, newCounter: number): Promise<boolean> {
    const [, updated] = await this.dataSource.query<[unknown[], number]>(
      `UPDATE ${this.table} SET counter = $3, last_used_at = now()
       WHERE id = $1 AND counter = $2 AND ($3 > counter OR ($3 = 0 AND counter = 0))`,
      [id, oldCounter, newCounter],
    );
    return updated === 1;
  }

  /** Deletes the user's passkey `id`; false when the user has none of that id. */
  async delete(userId: string, id: string, manager: EntityManager): Promise<boolean> {
    const { affected } = await manager.delete(Passkey, { userId, id });
    return affected === 1;
  }

  async deleteAllOfUser(userId: string, manager: EntityManager): Promise<void> {
    await manager.delete(Passkey, { userId });
  }

  countOfUser(userId: string, manager: EntityManager): Promise<number> {
    return manager.countBy(Passkey, { userId });
  }
}
