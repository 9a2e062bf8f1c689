import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
} from 'typeorm';
import { User } from '../../users/user.entity';

/** Passkeys one user registers at most (409 beyond). */
export const MAX_PASSKEYS_PER_USER = 20;

/** A WebAuthn credential (passkey) of a user: its public key, never a secret. */
@Entity('passkeys')
export class Passkey {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Index()
  @Column({ name: 'user_id', type: 'uuid' })
  userId!: string;

  @ManyToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: User;

  /** The authenticator's credential id, base64url. */
  @Index({ unique: true })
  @Column({ name: 'credential_id', type: 'varchar', length: 1400 })
  credentialId!: string;

  @Column({ name: 'public_key', type: 'bytea' })
  publicKey!: Buffer;

  /** The authenticator's signature counter: a value that does not grow means a cloned key. */
  @Column({ type: 'bigint', default: 0 })
  counter!: string;

  @Column({ type: 'jsonb', default: () => `'[]'` })
  transports!: string[];

  @Column({ type: 'varchar', length: 100 })
  name!: string;

  @Column({ name: 'backed_up', type: 'boolean', default: false })
  backedUp!: boolean;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true })
  lastUsedAt!: Date | null;
}
