import { Column, CreateDateColumn, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

/**
 * One piece of work for the outbox worker: a mail to deliver (`kind: 'mail'`), or a
 * job that may produce one (a password-reset request, done off the request so that
 * known and unknown addresses answer alike). Written in the transaction of the change
 * it belongs to, so a committed change always has its mail and a rolled-back one never.
 */
@Entity('outbox')
@Index('IDX_outbox_due', ['nextAttemptAt'], { where: '"done_at" IS NULL AND "failed_at" IS NULL' })
export class OutboxMessage {
  @PrimaryGeneratedColumn('uuid')
  id!: string;

  @Column({ type: 'varchar', length: 40 })
  kind!: string;

  /** The address it goes to (kept after delivery, for the record). */
  @Column({ type: 'varchar', length: 254 })
  recipient!: string;

  /**
   * What the worker needs: for a mail its subject and bodies. Emptied once done, so
   * the links it carried (live tokens) do not stay in the database.
   */
  @Column({ type: 'jsonb' })
  payload!: Record<string, unknown>;

  @Column({ type: 'int', default: 0 })
  attempts!: number;

  /** Also the claim: a worker that takes the row moves this past its lease. */
  @Column({ name: 'next_attempt_at', type: 'timestamptz', default: () => 'now()' })
  nextAttemptAt!: Date;

  @Column({ name: 'last_error', type: 'varchar', length: 500, nullable: true })
  lastError!: string | null;

  @Index()
  @Column({ name: 'done_at', type: 'timestamptz', nullable: true })
  doneAt!: Date | null;

  @Column({ name: 'failed_at', type: 'timestamptz', nullable: true })
  failedAt!: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
