import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { MAIL_OPTIONS, type MailOptions } from './mail.options';
import type { RenderedMail } from './mail-templates';
import { MailTransport } from './mail-transport';
import { type ClaimedMessage, OutboxRepository } from './outbox.repository';

/** Turns a job into mail, inside the transaction that marks the job done. */
export type OutboxJobHandler = (message: ClaimedMessage, manager: EntityManager) => Promise<void>;

const BATCH = 20;
/** Longer than the SMTP transport's own timeouts together: a claimed row is not handed on while its send may still succeed. */
const LEASE_MS = 120_000;
const MAX_RETRY_MS = 3600_000;

/**
 * Delivers the outbox, on every instance. Rows are claimed with FOR UPDATE SKIP
 * LOCKED and a lease (OutboxRepository.claimDue), so two instances never send the
 * same mail at once, and one that dies mid-delivery hands its rows on when the lease
 * ends (a mail may then, rarely, arrive twice: at least once, never never). A failed
 * send is retried with exponential back-off (MAIL_RETRY_BASE_SECONDS, doubling, at
 * most an hour, with jitter) up to MAIL_MAX_ATTEMPTS, then recorded as failed.
 */
@Injectable()
export class OutboxWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Outbox');
  private readonly handlers = new Map<string, OutboxJobHandler>();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;

  constructor(
    @Inject(MAIL_OPTIONS) private readonly options: MailOptions,
    private readonly outbox: OutboxRepository,
    private readonly transport: MailTransport,
    private readonly dataSource: DataSource,
  ) {}

  /** Jobs of `kind` are handed to `handler` (mails, `kind: 'mail'`, go to the transport). */
  handle(kind: string, handler: OutboxJobHandler): void {
    this.handlers.set(kind, handler);
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => this.wake(), this.options.mail.pollIntervalMs).unref();
    this.wake();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
    this.transport.close();
  }

  /** Looks at the outbox now (or right after the pass under way). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.wake();
      }
    });
  }

  /** Passes until nothing is due; a database that is down is tried again at the next poll. */
  private async drain(): Promise<void> {
    try {
      for (;;) {
        const claimed = await this.outbox.claimDue(BATCH, LEASE_MS);
        for (const message of claimed) await this.deliver(message);
        if (claimed.length < BATCH || this.stopped) return;
      }
    } catch (error) {
      this.logger.warn(`Outbox not read: ${(error as Error).message}`);
    }
  }

  private async deliver(message: ClaimedMessage): Promise<void> {
    try {
      const handler = this.handlers.get(message.kind);
      if (message.kind === 'mail') {
        await this.transport.send(message.recipient, message.payload as unknown as RenderedMail);
        await this.outbox.markDone(message.id);
      } else if (handler) {
        let queued = false;
        await this.dataSource.transaction(async (manager) => {
          await handler(message, manager);
          await this.outbox.markDone(message.id, manager);
          queued = true;
        });
        if (queued) this.again = true; // the mail it may have queued is due now
      } else {
        throw new Error(`no handler for outbox kind ${message.kind}`);
      }
    } catch (error) {
      await this.failed(message, (error as Error).message || String(error));
    }
  }

  private async failed(message: ClaimedMessage, reason: string): Promise<void> {
    const what = `${message.kind} ${message.id} to ${message.recipient}`;
    if (message.attempts >= this.options.mail.maxAttempts) {
      this.logger.error(`Gave up on ${what} after ${message.attempts} attempts: ${reason}`);
      await this.outbox.markFailed(message.id, reason);
      return;
    }
    const backoff = Math.min(this.options.mail.retryBaseMs * 2 ** (message.attempts - 1), MAX_RETRY_MS);
    const retryInMs = Math.round(backoff * (0.9 + Math.random() * 0.2));
    this.logger.warn(`Attempt ${message.attempts} of ${what} failed (${reason}); next in ${retryInMs} ms`);
    await this.outbox.retryLater(message.id, reason, retryInMs);
  }
}
