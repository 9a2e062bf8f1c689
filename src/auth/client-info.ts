import type { Request } from 'express';

export interface ClientInfo {
  ip: string | null;
  userAgent: string | null;
}

/** Where a sign-in comes from. `req.ip` honours TRUST_PROXY, so X-Forwarded-For is ignored unless trusted. */
export function clientInfo(req: Request): ClientInfo {
  return {
    ip: req.ip?.slice(0, 64) ?? null,
    userAgent: req.headers['user-agent']?.slice(0, 512) ?? null,
  };
}
