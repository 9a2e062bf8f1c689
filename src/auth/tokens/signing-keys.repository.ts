import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager, IsNull } from 'typeorm';
import { SigningKey } from './signing-key.entity';

/** The `signing_keys` table. */
@Injectable()
export class SigningKeysRepository {
  constructor(private readonly dataSource: DataSource) {}

  /** Every key, oldest first. */
  findAll(manager: EntityManager = this.dataSource.manager): Promise<SigningKey[]> {
    return manager.find(SigningKey, { order: { createdAt: 'ASC' } });
  }

  /** `key` becomes the signing key and the one before it retires, in `manager`'s transaction. */
  async replaceCurrent(
    key: Omit<SigningKey, 'createdAt' | 'retiredAt' | 'legacyHs256Until'> & { legacyHs256UntilMs?: number },
    manager: EntityManager,
  ): Promise<void> {
    const { legacyHs256UntilMs, ...row } = key;
    await manager.update(SigningKey, { retiredAt: IsNull() }, { retiredAt: () => 'now()' });
    await manager.insert(SigningKey, {
      ...row,
      legacyHs256Until:
        legacyHs256UntilMs === undefined
          ? null
          : () => `now() + ${Math.round(legacyHs256UntilMs)} * interval '1 millisecond'`,
    });
  }
}
