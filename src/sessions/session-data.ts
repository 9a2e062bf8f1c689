import 'express-session';

declare module 'express-session' {
  interface SessionData {
    /** Set at sign-in; an anonymous session has none. */
    userId?: string;
    /** The user's credential version the sign-in read; the session is over once it is not current. */
    credentialVersion?: number;
    /** When the user last proved a factor on this session (ms since the epoch): sign-in or re-authentication. */
    authenticatedAt?: number;
    /** Where the sign-in came from, shown in the list of sign-ins. */
    client?: { ip: string | null; userAgent: string | null };
  }
}
