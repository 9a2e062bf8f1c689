import 'express-session';

declare module 'express-session' {
  interface SessionData {
    /** Set at sign-in; an anonymous session has none. */
    userId?: string;
    /** Where the sign-in came from, shown in the list of sign-ins. */
    client?: { ip: string | null; userAgent: string | null };
  }
}
