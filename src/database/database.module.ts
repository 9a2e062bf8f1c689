import { type DynamicModule, Logger, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { AppConfig } from '../config/app-config';
import { withAdvisoryLock } from './advisory-lock';
import { dataSourceOptions } from './data-source-options';

/** Any constant shared by every instance: the key of the migration lock. */
const MIGRATION_LOCK_KEY = 7_231_004_512;

/**
 * The service's connection (TypeORM's root module, which Nest makes global so that
 * every module's `forFeature` and repositories find the DataSource), migrated before
 * anything reads it. The entities are the ones the feature modules register
 * (`autoLoadEntities`): this layer lists none.
 */
@Module({})
export class DatabaseModule {
  static forRoot(database: AppConfig['database']): DynamicModule {
    return {
      module: DatabaseModule,
      imports: [
        TypeOrmModule.forRootAsync({
          useFactory: () => {
            if (!database.url) throw new Error('No database URL: start the embedded PostgreSQL first');
            return {
              ...dataSourceOptions(database.url, database.poolSize, database.queryTimeoutMs),
              autoLoadEntities: true,
            };
          },
          dataSourceFactory: async (options) => {
            // Migrations on a connection of their own, without the requests' query timeout.
            const { url } = options as { url: string };
            const migrator = await new DataSource(dataSourceOptions(url, 2)).initialize();
            try {
              const applied = await runMigrations(migrator);
              if (applied.length) new Logger('Migrations').log(`Applied ${applied.join(', ')}`);
            } finally {
              await migrator.destroy();
            }
            return new DataSource(options!).initialize();
          },
        }),
      ],
    };
  }
}

/**
 * Brings the schema up to date before anything reads it. TypeORM takes no lock of
 * its own, so instances that start together queue on a PostgreSQL advisory lock.
 */
export function runMigrations(dataSource: DataSource): Promise<string[]> {
  return withAdvisoryLock(dataSource, MIGRATION_LOCK_KEY, async () => {
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    return applied.map((migration) => migration.name);
  });
}
