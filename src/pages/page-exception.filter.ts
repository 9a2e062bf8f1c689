import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  HttpException,
  Injectable,
  Logger,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { CsrfService } from '../auth/session/csrf.service';
import { isDatabaseUnavailable } from '../common/postgres-errors';
import { pageChrome } from './page-chrome';

const PAGES: Record<number, { heading: string; message: string }> = {
  403: {
    heading: 'Forbidden',
    message: 'You are not allowed to do this, or the form expired: reload the page and try again.',
  },
  404: { heading: 'Not found', message: 'There is no such page.' },
  409: { heading: 'Not possible', message: 'This change is not possible right now.' },
  429: { heading: 'Too many attempts', message: 'Too many attempts: wait a little and try again.' },
  503: { heading: 'Unavailable', message: 'The service is unavailable for a moment: try again shortly.' },
};

/**
 * Errors on pages are pages: a page that needs a session sends the browser to the
 * sign-in form and back (`next`), anything else renders a short error page. Like
 * the API's filter, no internals ever reach the browser.
 */
@Injectable()
@Catch()
export class PageExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Pages');

  constructor(private readonly csrf: CsrfService) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const req = http.getRequest<Request>();
    const res = http.getResponse<Response>();
    if (res.headersSent) return;
    const status =
      exception instanceof HttpException
        ? exception.getStatus()
        : isDatabaseUnavailable(exception)
          ? 503
          : 500;
    if (status === 401) {
      const back = req.method === 'GET' ? req.originalUrl : '/profile';
      return res.redirect(303, `/login?next=${encodeURIComponent(back)}`);
    }
    if (status >= 500 && status !== 503)
      this.logger.error(exception instanceof Error ? exception.stack : String(exception));
    const page = PAGES[status] ?? { heading: 'Something went wrong', message: 'Please try again.' };
    res.status(status).render('error', { title: page.heading, ...page, ...pageChrome(req, this.csrf) });
  }
}
