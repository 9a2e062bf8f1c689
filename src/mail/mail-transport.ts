import { Logger } from '@nestjs/common';
import { createTransport, type Transporter } from 'nodemailer';
import type { RenderedMail } from './mail-templates';

/** Where a mail goes once the worker has claimed it. A rejection means "try again later". */
export abstract class MailTransport {
  abstract send(to: string, mail: RenderedMail): Promise<void>;
  close(): void {}
}

/** SMTP through nodemailer (SMTP_URL, credentials in the URL). */
export class SmtpMailTransport extends MailTransport {
  private readonly transporter: Transporter;

  constructor(
    url: string,
    private readonly from: string,
  ) {
    super();
    // Bounded waits: a silent server delays the mail (the worker retries), it never holds the worker.
    this.transporter = createTransport({
      url,
      connectionTimeout: 10_000,
      greetingTimeout: 10_000,
      socketTimeout: 30_000,
    });
  }

  async send(to: string, { subject, text, html }: RenderedMail): Promise<void> {
    await this.transporter.sendMail({ from: this.from, to, subject, text, html });
  }

  override close(): void {
    this.transporter.close();
  }
}

/**
 * No SMTP_URL (never in production): the mail, link included, goes to the log, so a
 * newcomer can follow it without a mail server.
 */
export class LogMailTransport extends MailTransport {
  private readonly logger = new Logger('Mail');

  send(to: string, { subject, text }: RenderedMail): Promise<void> {
    this.logger.log(`Mail to ${to} (no SMTP_URL: logged, not sent): ${subject}\n${text}`);
    return Promise.resolve();
  }
}
