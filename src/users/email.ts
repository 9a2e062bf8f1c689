/** The canonical form of an email: how it is stored and compared (the database checks it). */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}
