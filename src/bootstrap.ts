import { join } from 'node:path';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Logger } from 'nestjs-pino';
import { AppModule, type AppModuleOptions } from './app.module';
import { HttpExceptionFilter } from './common/http-exception.filter';
import { applyHttpSecurity } from './common/http-security';
import { validationPipe } from './common/validation';
import type { AppConfig } from './config/app-config';
import { setUpSwagger } from './docs/swagger';

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
  app.disable('x-powered-by');
  // Responses are personal and never cached (no-store): an ETag would be a hash per response for nothing.
  app.set('etag', false);
  app.set('trust proxy', config.trustProxy);
  applyHttpSecurity(app, config);
  app.setBaseViewsDir(join(__dirname, 'pages', 'views'));
  app.setViewEngine('hbs');
  app.useStaticAssets(join(__dirname, 'pages', 'public'), { prefix: '/assets/', index: false });
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
  try {
    await app.init();
  } catch (error) {
    // Whatever did start (connection pool, notification listener) must not outlive a failed start.
    await app.close().catch(() => undefined);
    throw error;
  }
  return app;
}
