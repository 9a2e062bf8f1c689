import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Handlebars from 'handlebars';

export type MailTemplate =
  | 'password-reset'
  | 'password-changed'
  | 'email-verification'
  | 'email-change'
  | 'email-changed'
  | 'security-notice';

const SUBJECTS: Record<MailTemplate, string> = {
  'password-reset': 'Reset your password',
  'password-changed': 'Your password was reset',
  'email-verification': 'Confirm your email address',
  'email-change': 'Confirm your new email address',
  'email-changed': 'Your sign-in address was changed',
  'security-notice': 'A change to how you sign in',
};

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

type Render = (context: object) => string;

/**
 * The mails' wording, from `templates/` (text and HTML, Handlebars like the pages).
 * HTML escapes every value; text does not (it is not HTML), and carries no markup
 * a value could break out of.
 */
export class MailTemplates {
  private readonly compiled = new Map<string, Render>();

  constructor(private readonly base: { serviceName: string; publicUrl: string }) {}

  render(template: MailTemplate, params: Record<string, string>): RenderedMail {
    const context = { ...this.base, ...params };
    const body = this.compile(`${template}.html.hbs`, false)(context);
    return {
      subject: `${SUBJECTS[template]} · ${this.base.serviceName}`,
      text: this.compile(`${template}.text.hbs`, true)(context),
      html: this.compile('layout.html.hbs', false)({ ...context, body }),
    };
  }

  private compile(file: string, noEscape: boolean): Render {
    let render = this.compiled.get(file);
    if (!render) {
      const source = readFileSync(join(__dirname, 'templates', file), 'utf8');
      render = Handlebars.compile(source, { noEscape, strict: true });
      this.compiled.set(file, render);
    }
    return render;
  }
}
