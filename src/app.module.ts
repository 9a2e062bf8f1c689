import { DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import { AppController } from './app.controller';
import { AuthModule } from './auth/auth.module';
import type { AuthModuleOptions } from './auth/auth.options';
import { AppConfig } from './config/app-config';
import { DatabaseModule } from './database/database.module';
import { HealthModule } from './health/health.module';
import { loggerParams } from './logging/logger-params';
import { PagesModule } from './pages/pages.module';

export interface AppModuleOptions {
  /** Where request and application logs go (default: stdout). Tests capture them here. */
  logStream?: DestinationStream;
}

@Module({})
export class AppModule {
  static forRoot(config: AppConfig, options: AppModuleOptions = {}): DynamicModule {
    const auth = AuthModule.forRoot(authModuleOptions(config));
    return {
      module: AppModule,
      imports: [
        LoggerModule.forRoot(loggerParams(config, options.logStream)),
        DatabaseModule.forRoot(config.database),
        auth,
        HealthModule.register(auth),
        PagesModule.register(auth),
      ],
      controllers: [AppController],
    };
  }
}

/** The service's environment, as the auth module's options: the one place they meet. */
export function authModuleOptions(config: AppConfig): AuthModuleOptions {
  return {
    secrets: config.secrets,
    session: {
      cookieName: config.session.cookieName,
      secureCookie: config.session.secureCookie,
      idleTimeoutMs: config.session.idleTimeoutMs,
      absoluteTimeoutMs: config.session.absoluteTimeoutMs,
      store: config.session.store,
    },
    redis: config.redis,
    jwt: config.jwt,
    passwordMinLength: config.passwordMinLength,
    bcryptCost: config.bcryptCost,
    bcryptConcurrency: config.bcryptConcurrency,
    bcryptMaxQueue: config.bcryptMaxQueue,
    abuse: config.abuse,
    admin: config.admin,
    cleanupIntervalMs: config.cleanupIntervalMs,
    cacheMaxAgeMs: config.cacheMaxAgeMs,
    invalidation: config.invalidation,
    publicUrl: config.publicUrl,
    serviceName: config.serviceName,
    mail: config.mail,
    account: config.account,
    captcha: config.captcha,
  };
}
