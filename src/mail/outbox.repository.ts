import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager, type QueryDeepPartialEntity } from 'typeorm';
import { tableOf } from '../database/table-name';
import { OutboxMessage } from './outbox-message.entity';

export interface NewOutboxMessage {
  kind: string;
  recipient: string;
  payload: Record<string, unknown>;
}

/** A claimed row, as the worker sees it. */
export interface ClaimedMessage {
  id: string;
  kind: string;
  recipient: string;
  payload: Record<string, unknown>;
  /** Including this one. */
  attempts: number;
}

/** The `outbox` table. */
@Injectable()
export class OutboxRepository {
  constructor(private readonly dataSource: DataSource) {}

  private get table(): string {
    return tableOf(this.dataSource, OutboxMessage);
  }

  /** Adds the message as part of `manager`'s transaction. */
  async add(message: NewOutboxMessage, manager: EntityManager = this.dataSource.manager): Promise<void> {
    await manager.insert(OutboxMessage, message as QueryDeepPartialEntity<OutboxMessage>);
  }

  /**
   * Claims up to `limit` due rows for `leaseMs`: locked with SKIP LOCKED, so two
   * workers never take the same row, and leased by moving its next attempt past the
   * lease, so a worker that dies mid-delivery hands the row on once the lease ends.
   */
  async claimDue(limit: number, leaseMs: number): Promise<ClaimedMessage[]> {
    // An UPDATE answers [rows, count] through TypeORM.
    const [rows] = await this.dataSource.query<[ClaimedMessage[], number]>(
      `UPDATE ${this.table} SET attempts = attempts + 1,
              next_attempt_at = now() + $2 * interval '1 millisecond'
       WHERE id IN (
         SELECT id FROM ${this.table}
         WHERE done_at IS NULL AND failed_at IS NULL AND next_attempt_at <= now()
         ORDER BY next_attempt_at
         LIMIT $1
         FOR UPDATE SKIP LOCKED)
       RETURNING id, kind, recipient, payload, attempts`,
      [limit, leaseMs],
    );
    return rows;
  }

  /** Delivered (or handled): its payload is dropped. */
  async markDone(id: string, manager: EntityManager = this.dataSource.manager): Promise<void> {
    await manager.update(OutboxMessage, { id }, { doneAt: () => 'now()', payload: {}, lastError: null });
  }

  /** A failed attempt: tried again after `retryInMs`. */
  async retryLater(id: string, error: string, retryInMs: number): Promise<void> {
    await this.dataSource.query(
      `UPDATE ${this.table} SET last_error = $2, next_attempt_at = now() + $3 * interval '1 millisecond'
       WHERE id = $1`,
      [id, error.slice(0, 500), retryInMs],
    );
  }

  /** The last attempt failed: recorded, never tried again, its payload dropped. */
  async markFailed(id: string, error: string): Promise<void> {
    await this.dataSource.manager.update(
      OutboxMessage,
      { id },
      { failedAt: () => 'now()', lastError: error.slice(0, 500), payload: {} },
    );
  }

  /** Deletes up to `batch` rows done or failed more than `olderThanMs` ago; returns how many. */
  async deleteFinished(
    olderThanMs: number,
    batch: number,
    manager: EntityManager = this.dataSource.manager,
  ): Promise<number> {
    const [, deleted] = await manager.query<[unknown[], number]>(
      `DELETE FROM ${this.table} WHERE id IN (
         SELECT id FROM ${this.table}
         WHERE coalesce(done_at, failed_at) < now() - $1 * interval '1 millisecond'
         LIMIT $2)`,
      [olderThanMs, batch],
    );
    return deleted;
  }
}
