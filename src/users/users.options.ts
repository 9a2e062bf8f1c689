/** What the users module needs to know: password hashing and rules, the admin bootstrap, its cache. */
export interface UsersOptions {
  readonly secrets: { readonly passwordPepper: string };
  /** In characters (code points after NFKC normalisation). */
  readonly passwordMinLength: number;
  readonly bcryptCost: number;
  /** bcrypt hashes and compares running at once (the rest wait their turn). */
  readonly bcryptConcurrency: number;
  /** Password checks allowed to wait for a turn; beyond that, 503. */
  readonly bcryptMaxQueue: number;
  readonly admin?: { readonly email: string; readonly password: string; readonly promoteExisting: boolean };
  /** No cached user is trusted longer than this. */
  readonly cacheMaxAgeMs: number;
}

export const USERS_OPTIONS = Symbol('UsersOptions');
