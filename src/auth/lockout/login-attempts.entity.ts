import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * Failed logins per account in the current window. The key is the SHA-256 of the
 * normalised email, known account or not, so the table reveals no email and an
 * unknown account locks exactly like a real one.
 */
@Entity('login_attempts')
export class LoginAttempts {
  @PrimaryColumn({ name: 'account_key', type: 'char', length: 64 })
  accountKey!: string;

  /** Indexed for the clean-up: a spray of made-up emails leaves one row each. */
  @Index()
  @Column({ name: 'window_started_at', type: 'timestamptz' })
  windowStartedAt!: Date;

  /** Failures so far in the window, plus attempts still being checked. */
  @Column({ type: 'int' })
  attempts!: number;

  /** The day-long window of the long-term cap (LOGIN_MAX_DAILY_FAILURES); indexed for the clean-up. */
  @Index()
  @Column({ name: 'day_started_at', type: 'timestamptz', default: () => 'now()' })
  dayStartedAt!: Date;

  /** Failures (and attempts being checked) in the day window. */
  @Column({ name: 'day_failures', type: 'int', default: 0 })
  dayFailures!: number;
}
