import { ConfigurableModuleBuilder } from '@nestjs/common';
import type { AuthModuleOptions } from './auth.options';

/**
 * `AuthModule.forRoot(options)` and `AuthModule.forRootAsync({ imports, inject, useFactory })`,
 * by Nest's own builder. `globalGuards` (default true) is decided when the module is
 * defined, not from the async options: it changes which providers exist.
 */
export const {
  ConfigurableModuleClass: ConfigurableAuthModule,
  MODULE_OPTIONS_TOKEN: AUTH_MODULE_OPTIONS,
  OPTIONS_TYPE: AUTH_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: AUTH_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<AuthModuleOptions>({ moduleName: 'Auth' })
  .setClassMethodName('forRoot')
  .setExtras({ globalGuards: true }, (definition, extras) => ({
    ...definition,
    globalGuards: extras.globalGuards,
  }))
  .build();
