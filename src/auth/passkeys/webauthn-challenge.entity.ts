import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';

export type WebAuthnPurpose = 'registration' | 'authentication';

/**
 * A WebAuthn challenge the service handed out: deleted when a response uses it (single
 * use) and refused after `expires_at`. A registration's belongs to the signed-in user;
 * an authentication's to the account named email-first, or to nobody (discoverable).
 */
@Entity('webauthn_challenges')
export class WebAuthnChallenge {
  /** base64url, as it comes back in the client's clientDataJSON. */
  @PrimaryColumn({ type: 'varchar', length: 128 })
  challenge!: string;

  @Column({ type: 'varchar', length: 20 })
  purpose!: WebAuthnPurpose;

  @Column({ name: 'user_id', type: 'uuid', nullable: true })
  userId!: string | null;

  @Index()
  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt!: Date;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
