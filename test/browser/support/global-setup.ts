import { rm } from 'node:fs/promises';
import globalSetup from '../../support/global-setup';
import { SCREENSHOT_DIR } from './paths';

/** The shared setup (PostgreSQL and the migrated template), after clearing the last run's screenshots. */
export default async function browserGlobalSetup(): Promise<void> {
  await rm(SCREENSHOT_DIR, { recursive: true, force: true });
  await globalSetup();
}
