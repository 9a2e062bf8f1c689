import { resolve } from 'node:path';

/** The machine's Chromium (Debian package); a browser is never downloaded. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Screenshots of the browser suite (git-ignored), cleared at the start of each run. */
export const SCREENSHOT_DIR = resolve(__dirname, '../../../test-results/screenshots');
