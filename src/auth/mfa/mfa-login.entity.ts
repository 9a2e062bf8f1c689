import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
} from 'typeorm';
import type { SignInMethod } from '../../sessions/sign-in-method';
import { User } from '../../users/user.entity';

/**
 * A password login waiting for its second step (the `mfaToken`): single use, bound to
 * the user, the kind of sign-in it will create and the credential version its
 * password check read, and short-lived. Only the token's SHA-256 is stored.
 */
@Entity('mfa_logins')
export class MfaLogin {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Index({ unique: true })
  @Column({ name: 'token_hash', type: 'char', length: 64 })
  tokenHash!: string;

  @Index()
  @Column({ name: 'user_id', type: 'uuid' })
  userId!: string;

  @ManyToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'user_id' })
  user?: User;

  @Column({ type: 'varchar', length: 10 })
  kind!: SignInMethod;

  @Column({ name: 'credential_version', type: 'int' })
  credentialVersion!: number;

  @Index()
  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
