import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

export const AUDIT_EVENT_TYPES = [
  'signup',
  'login.succeeded',
  'login.failed',
  'account.locked',
  'account.unlocked',
  'reauth.failed',
  'logout',
  'token.refreshed',
  'token.reuse_detected',
  'password.changed',
  'password.reset_requested',
  'password.reset',
  'email.verification_sent',
  'email.verified',
  'email.change_requested',
  'email.changed',
  'reauth.succeeded',
  'mfa.failed',
  'mfa.totp_enabled',
  'mfa.totp_disabled',
  'mfa.recovery_codes_generated',
  'mfa.recovery_code_used',
  'mfa.reset',
  'passkey.registered',
  'passkey.deleted',
  'passkey.failed',
  'signing_key.rotated',
  'apikey.created',
  'apikey.revoked',
  'signin.revoked',
  'signins.revoked_all',
  'roles.changed',
  'user.disabled',
  'user.enabled',
  'user.deleted',
] as const;
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

/**
 * One security-relevant event. Never holds a secret: no password, token, session id
 * or CSRF token, only who, what, from where and when. `userId` is the account the
 * event is about and has no foreign key, so the trail outlives a deleted user.
 */
@Entity('audit_events')
@Index(['userId', 'createdAt'])
export class AuditEvent {
  @PrimaryGeneratedColumn('identity', { type: 'bigint' })
  id!: string;

  @Index()
  @Column({ type: 'varchar', length: 40 })
  type!: AuditEventType;

  @Column({ name: 'user_id', type: 'uuid', nullable: true })
  userId!: string | null;

  /** Who did it, when not the user themself (an admin). */
  @Column({ name: 'actor_id', type: 'uuid', nullable: true })
  actorId!: string | null;

  @Column({ type: 'varchar', length: 64, nullable: true })
  ip!: string | null;

  @Column({ name: 'user_agent', type: 'varchar', length: 512, nullable: true })
  userAgent!: string | null;

  @Column({ type: 'jsonb', nullable: true })
  details!: Record<string, unknown> | null;

  @Index()
  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
