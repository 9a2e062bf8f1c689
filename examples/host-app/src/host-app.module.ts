import { type DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuthModule, authEntities, authMigrations } from '../../../src';
import { AccountController, HelloController, ReportsController } from './host.controllers';

export interface HostAppOptions {
  databaseUrl: string;
  sessionSecret: string;
  jwtSecret: string;
  passwordPepper: string;
}

/**
 * A Nest app of its own that uses the auth service as a library: its own TypeORM
 * connection (with the library's entities and migrations beside whatever else it
 * has), its own controllers, and `AuthModule.forRootAsync` fed from its own
 * configuration, with the library's tables in the `host_auth` schema. It imports
 * nothing but the package entry.
 */
@Module({})
export class HostAppModule {
  static forRoot(options: HostAppOptions): DynamicModule {
    return {
      module: HostAppModule,
      imports: [
        TypeOrmModule.forRoot({
          type: 'postgres',
          url: options.databaseUrl,
          entities: [...authEntities],
          migrations: authMigrations,
          migrationsRun: true,
          uuidExtension: 'pgcrypto',
          installExtensions: false,
        }),
        AuthModule.forRootAsync({
          // The library's tables in a schema of their own, apart from the host's.
          schema: 'host_auth',
          useFactory: () => ({
            secrets: {
              session: options.sessionSecret,
              jwt: options.jwtSecret,
              passwordPepper: options.passwordPepper,
            },
            bcryptCost: 4,
            cleanupIntervalMs: 0,
          }),
        }),
      ],
      controllers: [HelloController, ReportsController, AccountController],
    };
  }
}
