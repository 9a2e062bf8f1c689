import {
  Check,
  Column,
  CreateDateColumn,
  Entity,
  JoinTable,
  ManyToMany,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
} from 'typeorm';
import { Role } from '../roles/role.entity';

@Entity('users')
// The database, not only the code, keeps emails normalised, so the unique
// constraint below is a case-insensitive one.
@Check('CHK_users_email_normalised', `"email" = lower(btrim("email"))`)
export class User {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'varchar', length: 254, unique: true })
  email!: string;

  @Column({ type: 'varchar', length: 100, nullable: true })
  name!: string | null;

  /** Never loaded unless asked for by name (`select: false`). */
  @Column({ name: 'password_hash', type: 'varchar', length: 255, select: false })
  passwordHash?: string;

  @Column({ type: 'boolean', default: false })
  disabled!: boolean;

  /** A confirmed TOTP authenticator: a password login needs a second step. Kept by the MFA services. */
  @Column({ name: 'totp_enabled', type: 'boolean', default: false })
  totpEnabled!: boolean;

  /** How many passkeys the user has (kept by the passkey service, in the transaction that changes them). */
  @Column({ name: 'passkey_count', type: 'int', default: 0 })
  passkeyCount!: number;

  /** The owner proved the address (followed a mailed link); the bootstrap admin is vouched for. */
  @Column({ name: 'email_verified', type: 'boolean', default: false })
  emailVerified!: boolean;

  /**
   * Bumped, in the same transaction, by everything that ends all of the user's
   * sign-ins (password change, logout everywhere, revoke-all, disable). A sign-in
   * records the version its login read and is refused once it is not current, so a
   * login that raced the change cannot outlive it.
   */
  @Column({ name: 'credential_version', type: 'int', default: 0 })
  credentialVersion!: number;

  @ManyToMany(() => Role, { eager: true })
  @JoinTable({
    name: 'user_roles',
    joinColumn: { name: 'user_id', referencedColumnName: 'id' },
    inverseJoinColumn: { name: 'role_name', referencedColumnName: 'name' },
  })
  roles!: Role[];

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt!: Date;
}
