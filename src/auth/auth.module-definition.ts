import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { AuthModuleOptions } from './auth.options';

/**
 * `AuthModule.forRoot(options)` and `AuthModule.forRootAsync({ imports, inject, useFactory })`,
 * by Nest's own builder. Two choices are made when the module is defined, not from the
 * async options: `globalGuards` (default true) changes which providers exist, and
 * `schema` (default `public`) must be known before the host's DataSource reads the
 * entities' metadata.
 */
export const {
  ConfigurableModuleClass: ConfigurableAuthModule,
  MODULE_OPTIONS_TOKEN: AUTH_MODULE_OPTIONS,
  OPTIONS_TYPE: AUTH_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: AUTH_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<AuthModuleOptions>({ moduleName: 'Auth' })
  .setClassMethodName('forRoot')
  .setExtras({ globalGuards: true, schema: 'public' }, (definition, extras) => ({ ...definition, ...extras }))
  .build();
