import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  HttpException,
  Injectable,
  Logger,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { isDependencyUnavailable } from '../common/dependency-unavailable';
import { PageRenderer } from './page-renderer';

/**
 * Errors on pages are pages: a page that needs a session sends the browser to the
 * sign-in form and back (`next`), anything else renders a short error page. Like
 * the API's filter, no internals ever reach the browser.
 */
@Injectable()
@Catch()
export class PageExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Pages');

  constructor(private readonly pages: PageRenderer) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const req = http.getRequest<Request>();
    const res = http.getResponse<Response>();
    if (res.headersSent) return;
    const status =
      exception instanceof HttpException
        ? exception.getStatus()
        : isDependencyUnavailable(exception)
          ? 503
          : 500;
    if (status === 401) {
      const back = req.method === 'GET' ? req.originalUrl : '/profile';
      return res.redirect(303, `/login?next=${encodeURIComponent(back)}`);
    }
    if (status >= 500 && status !== 503)
      this.logger.error(exception instanceof Error ? exception.stack : String(exception));
    this.pages.renderError(req, res, status);
  }
}
