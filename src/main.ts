import {
  loadConfig,
  loadEnvFile,
  ConfigError,
  persistentDevSecrets,
  type AppConfig,
} from './config/app-config';
import { StartupError } from './common/startup-error';
import { EmbeddedPostgres } from './database/embedded-postgres';
import { Logger } from 'nestjs-pino';
import { createApp } from './bootstrap';
import { DrainService } from './health/drain.service';
import { trackConnections } from './health/http-drain';
import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

/** Generated development secrets (git-ignored with the rest of .data/). */
const DEV_SECRETS_FILE = '.data/dev-secrets.json';

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
    : await EmbeddedPostgres.start({
        dir: config.database.embeddedDir,
        // Only the default may move: a directory the operator chose is used as is, or the start says why not.
        relocatable: config.database.embeddedDirIsDefault,
      });
  const databaseUrl = config.database.url ?? embedded!.url;
  const app = await createApp({ ...config, database: { ...config.database, url: databaseUrl } });
  const logger = app.get(Logger);
  for (const notice of embedded?.notices ?? []) logger.warn(notice);
  await app.listen(config.port);
  const connections = trackConnections(app.getHttpServer());
  logger.log(
    `Listening on http://localhost:${config.port} (database: ${embedded ? `embedded PostgreSQL in ${embedded.dataDir}` : 'DATABASE_URL'})`,
  );

  let stopping = false;
  const shutdown = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    const { delayMs, timeoutMs } = config.shutdown;
    // Health answers 503 from now on; requests still arriving are served.
    app.get(DrainService).begin();
    connections.endPendingResponses();
    // Ctrl-C in a terminal means now; SIGTERM comes from what routes traffic here, which
    // needs a moment to see the 503 and stop sending.
    const delay = signal === 'SIGTERM' ? delayMs : 0;
    logger.log(`${signal}: draining${delay ? ` for ${delay / 1000} s` : ''}, then shutting down`);
    if (delay) await sleep(delay);
    // No more connections; those in flight get up to SHUTDOWN_TIMEOUT_SECONDS.
    const server: Server = app.getHttpServer();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    connections.endPendingResponses();
    const stopSweeping = connections.sweepIdle();
    const overdue = setTimeout(() => {
      logger.warn(`Requests still running after ${timeoutMs / 1000} s: closing their connections`);
      server.closeAllConnections();
    }, timeoutMs);
    await closed;
    stopSweeping();
    clearTimeout(overdue);
    // Then the connection pools and the notification feed, the database last.
    await app.close();
    await embedded?.stop();
    process.exit(0);
  };
  process.on('SIGINT', (signal) => void shutdown(signal));
  process.on('SIGTERM', (signal) => void shutdown(signal));
}

main().catch((error: unknown) => {
  // A problem the operator can fix is one line; anything else is a bug, with its stack.
  const detail =
    error instanceof StartupError
      ? error.message
      : error instanceof Error
        ? (error.stack ?? error.message)
        : String(error);
  process.stderr.write(`Start-up failed: ${detail}\n`);
  // The embedded server, if any, is stopped by its 'exit' listener.
  process.exit(1);
});
