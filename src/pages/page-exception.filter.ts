import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  HttpException,
  Injectable,
  Logger,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { EMAIL_NOT_VERIFIED } from '../auth/guards/authentication.guard';
import { REAUTHENTICATION_REQUIRED } from '../auth/reauthentication.service';
import { isDependencyUnavailable } from '../common/dependency-unavailable';
import { messageOf } from './form-errors';
import { PageRenderer } from './page-renderer';

/**
 * Errors on pages are pages: a page that needs a session sends the browser to the
 * sign-in form and back (`next`), a page that needs a verified address
 * (EMAIL_VERIFICATION=required) says so and leads to /verify-email, one that needs a
 * recent sign-in leads to /security to confirm it, anything else
 * renders a short error page. Like the API's filter, no internals ever reach the browser.
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
    if (status === 403 && exception instanceof HttpException && messageOf(exception) === EMAIL_NOT_VERIFIED)
      return this.pages.render(
        req,
        res,
        'verify-email',
        { title: 'Verify your email address', required: true, email: req.auth?.user.email },
        403,
      );
    if (
      status === 403 &&
      exception instanceof HttpException &&
      messageOf(exception) === REAUTHENTICATION_REQUIRED
    )
      return this.pages.render(
        req,
        res,
        'error',
        {
          title: 'Confirm it is you',
          heading: 'Confirm it is you',
          message:
            'This change needs a recent sign-in: confirm your password or a code on the Security page, then try again.',
          link: { href: '/security', text: 'Go to Security' },
        },
        403,
      );
    if (status >= 500 && status !== 503)
      this.logger.error(exception instanceof Error ? exception.stack : String(exception));
    this.pages.renderError(req, res, status);
  }
}
