import {
  loadConfig,
  loadEnvFile,
  ConfigError,
  persistentDevSecrets,
  type AppConfig,
} from './config/app-config';

/** Generated development secrets (git-ignored with the rest of .data/). */
const DEV_SECRETS_FILE = '.data/dev-secrets.json';
import { EmbeddedPostgres } from './database/embedded-postgres';
import { Logger } from 'nestjs-pino';
import { createApp } from './bootstrap';

async function main(): Promise<void> {
  loadEnvFile();
  let config: AppConfig;
  try {
    config = loadConfig(process.env, persistentDevSecrets(DEV_SECRETS_FILE));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const problem of error.problems) process.stderr.write(`Configuration error: ${problem}\n`);
    process.exit(1);
  }

  const embedded = config.database.url
    ? undefined
    : await EmbeddedPostgres.start({ dir: config.database.embeddedDir });
  const databaseUrl = config.database.url ?? embedded!.url;
  const app = await createApp({ ...config, database: { ...config.database, url: databaseUrl } });
  await app.listen(config.port);
  app
    .get(Logger)
    .log(
      `Listening on http://localhost:${config.port} (database: ${embedded ? `embedded PostgreSQL in ${embedded.dataDir}` : 'DATABASE_URL'})`,
    );

  let stopping = false;
  const shutdown = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    app.get(Logger).log(`${signal}: shutting down`);
    // HTTP server and connection pool first, the database last.
    await app.close();
    await embedded?.stop();
    process.exit(0);
  };
  process.on('SIGINT', (signal) => void shutdown(signal));
  process.on('SIGTERM', (signal) => void shutdown(signal));
}

main().catch((error: unknown) => {
  process.stderr.write(
    `Start-up failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  // The embedded server, if any, is stopped by its 'exit' listener.
  process.exit(1);
});
