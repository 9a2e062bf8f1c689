import { type DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { registerOnce } from '../common/register-once';
import { MAIL_OPTIONS, type MailOptions } from './mail.options';
import { LogMailTransport, MailTransport, SmtpMailTransport } from './mail-transport';
import { MailService } from './mail.service';
import { OutboxMessage } from './outbox-message.entity';
import { OutboxRepository } from './outbox.repository';
import { OutboxWorker } from './outbox.worker';

const registered = new WeakMap<DynamicModule, DynamicModule>();

/**
 * Outgoing mail through a transactional outbox: MailService.queue() writes a mail in
 * the caller's transaction, every instance's OutboxWorker delivers (SMTP_URL, or the
 * log without it). `register(options)` takes a module that provides MAIL_OPTIONS.
 */
@Module({})
export class MailModule {
  static register(options: DynamicModule): DynamicModule {
    return registerOnce(registered, options, () => ({
      module: MailModule,
      imports: [options, TypeOrmModule.forFeature([OutboxMessage])],
      providers: [
        OutboxRepository,
        OutboxWorker,
        MailService,
        {
          provide: MailTransport,
          inject: [MAIL_OPTIONS],
          useFactory: ({ mail }: MailOptions): MailTransport =>
            mail.smtpUrl ? new SmtpMailTransport(mail.smtpUrl, mail.from) : new LogMailTransport(),
        },
      ],
      exports: [MailService, OutboxWorker, OutboxRepository],
    }));
  }
}
