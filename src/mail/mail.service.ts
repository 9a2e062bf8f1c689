import { Inject, Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { MAIL_OPTIONS, type MailOptions } from './mail.options';
import { type MailTemplate, MailTemplates } from './mail-templates';
import { OutboxRepository } from './outbox.repository';
import { OutboxWorker } from './outbox.worker';

export const MAIL_KIND = 'mail';

/** Puts mails in the outbox; the worker delivers them. */
@Injectable()
export class MailService {
  private readonly templates: MailTemplates;

  constructor(
    @Inject(MAIL_OPTIONS) private readonly options: MailOptions,
    private readonly outbox: OutboxRepository,
    private readonly worker: OutboxWorker,
  ) {
    this.templates = new MailTemplates(options);
  }

  /** A link to one of the service's pages, on PUBLIC_URL (never the request's Host). */
  link(path: string, token: string): string {
    return `${this.options.publicUrl}${path}?token=${encodeURIComponent(token)}`;
  }

  /**
   * Renders the mail and adds it to the outbox inside `manager`'s transaction: it is
   * sent once that commits, and never if it rolls back. Call `wake()` after the commit.
   */
  async queue(
    manager: EntityManager,
    to: string,
    template: MailTemplate,
    params: Record<string, string> = {},
  ): Promise<void> {
    const mail = this.templates.render(template, params);
    await this.outbox.add({ kind: MAIL_KIND, recipient: to, payload: { ...mail } }, manager);
  }

  /** Adds a job of `kind` (a handler registered with the worker turns it into mail). */
  async queueJob(kind: string, recipient: string, payload: Record<string, unknown>): Promise<void> {
    await this.outbox.add({ kind, recipient, payload });
    this.worker.wake();
  }

  /** This instance's worker looks at the outbox now, not at its next poll. */
  wake(): void {
    this.worker.wake();
  }
}
