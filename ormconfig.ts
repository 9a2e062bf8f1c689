/**
 * The data source of the TypeORM CLI (`npm run migration:generate|run|revert`).
 * Uses DATABASE_URL when set; otherwise starts the same embedded PostgreSQL as
 * `npm start`, on the same data directory (moved the same way when root cannot
 * use the default), for the duration of the command.
 */
import { DataSource } from 'typeorm';
import { loadConfig, loadEnvFile } from './src/config/app-config';
import { authEntities } from './src/auth/auth.entities';
import { dataSourceOptions } from './src/database/data-source-options';
import { EmbeddedPostgres } from './src/database/embedded-postgres';

async function embeddedUrl(dir: string, relocatable: boolean): Promise<string> {
  const server = await EmbeddedPostgres.start({ dir, relocatable });
  for (const notice of server.notices) process.stderr.write(`${notice}\n`);
  return server.url;
}

async function createDataSource(): Promise<DataSource> {
  loadEnvFile();
  const { database } = loadConfig();
  const url = database.url ?? (await embeddedUrl(database.embeddedDir, database.embeddedDirIsDefault));
  return new DataSource({ ...dataSourceOptions(url, 2), entities: authEntities });
}

export const dataSource = createDataSource();
