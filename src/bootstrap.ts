import { dirname, join } from 'node:path';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import cookieParser from 'cookie-parser';
import type { NextFunction, Request, Response } from 'express';
import { Logger, PinoLogger } from 'nestjs-pino';
import { AppModule, type AppModuleOptions } from './app.module';
import { HttpExceptionFilter } from './common/http-exception.filter';
import { applyHttpSecurity } from './common/http-security';
import { validationPipe } from './common/validation';
import type { AppConfig } from './config/app-config';
import { setUpSwagger } from './docs/swagger';
import { DrainService } from './health/drain.service';
import { requestLogger } from './logging/request-logger';

/**
 * Builds the fully configured application: the one way it is put together, used by
 * `main.ts` and by every e2e test. The caller starts the database and listens.
 */
export async function createApp(
  config: AppConfig,
  options: AppModuleOptions = {},
): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, options), {
    bufferLogs: true,
    // Parsers are added by applyHttpSecurity, with our size limits.
    bodyParser: false,
  });
  const logger = app.get(Logger);
  app.useLogger(logger);
  // First, so that every response is logged with its id, refusals by the layers below included.
  app.use(requestLogger(PinoLogger.root));
  app.disable('x-powered-by');
  // Responses are personal and never cached (no-store): an ETag would be a hash per response for nothing.
  app.set('etag', false);
  app.set('trust proxy', config.trustProxy);
  applyHttpSecurity(app, config);
  app.use(drainAndPageCookies(app.get(DrainService)));
  app.setBaseViewsDir(join(__dirname, 'pages', 'views'));
  app.setViewEngine('hbs');
  app.useStaticAssets(join(__dirname, 'pages', 'public'), { prefix: '/assets/', index: false });
  // The passkey pages' WebAuthn client, served as its package publishes it (there is no bundler here).
  const webauthnBrowser = join(dirname(require.resolve('@simplewebauthn/browser')), '..', 'dist', 'bundle');
  app.useStaticAssets(webauthnBrowser, { prefix: '/assets/vendor/simplewebauthn/', index: false });
  app.useGlobalPipes(validationPipe);
  app.useGlobalFilters(new HttpExceptionFilter());
  if (config.swaggerEnabled) setUpSwagger(app, config);
  for (const name of config.secrets.generated) {
    logger.warn(
      config.secrets.generatedIn
        ? `${name} is not set: using a generated development secret kept in ${config.secrets.generatedIn}`
        : `${name} is not set: using a random development secret that ends with this process`,
    );
  }
  if (!config.mail.smtpUrl)
    logger.warn('SMTP_URL is not set: mails (with their links) are written to this log instead of sent');
  try {
    await app.init();
  } catch (error) {
    // Whatever did start (connection pool, notification listener) must not outlive a failed start.
    await app.close().catch(() => undefined);
    throw error;
  }
  return app;
}

const API_PATH = /^\/api(?:[/?]|$)/i;
const parseCookies = cookieParser();

/**
 * One layer for two small jobs (each layer ahead of the routes is walked by every request):
 * - while draining, every response ends its connection: clients reconnect through the balancer;
 * - `req.cookies` for the pages, whose anonymous forms keep their CSRF token in a
 *   cookie (CsrfService). The API reads no cookie but the session's, which
 *   express-session parses itself, so it is spared the work.
 */
function drainAndPageCookies(drain: DrainService) {
  return function drainAndPageCookies(req: Request, res: Response, next: NextFunction): void {
    if (drain.draining) res.setHeader('Connection', 'close');
    // Express matches routes case-insensitively: so does this test.
    if (API_PATH.test(req.originalUrl)) next();
    else parseCookies(req, res, next);
  };
}
