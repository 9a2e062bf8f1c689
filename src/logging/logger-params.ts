import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Params } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import type { AppConfig } from '../config/app-config';

const SENSITIVE_QUERY_KEY = /token|password|secret|session|code|key|csrf|auth/i;

/**
 * Structured JSON logs. A request line (request-logger.ts) holds the request id,
 * method, URL (query values whose names suggest a credential masked), client address
 * and user agent, the status and the time taken: never a body, and no other header,
 * so no credential can reach it and no redaction pass runs per line (logging every
 * header through a redaction pass cost more than the rest of the line).
 */
export function loggerParams(config: AppConfig, stream?: DestinationStream): Params {
  const options = {
    level: config.logLevel,
    // Our serializers read the raw request and response: pino-http's wrappers would first
    // copy every field (all headers included) into an object for each request.
    wrapSerializers: false,
    serializers: {
      req: (req: IncomingMessage & { id?: unknown; originalUrl?: string }) => ({
        id: req.id,
        method: req.method,
        url: maskQuery(req.originalUrl ?? req.url ?? ''),
        remoteAddress: req.socket?.remoteAddress,
        userAgent: req.headers['user-agent'],
      }),
      res: (res: ServerResponse) => ({ statusCode: res.statusCode }),
    },
  };
  // nestjs-pino gives the application its logger; the request log is requestLogger's,
  // so nestjs-pino mounts no middleware of its own (no routes).
  return { pinoHttp: stream ? [options, stream] : options, forRoutes: [] };
}

function maskQuery(url: string): string {
  const start = url.indexOf('?');
  if (start < 0) return url;
  const query = new URLSearchParams(url.slice(start + 1));
  for (const key of [...query.keys()]) if (SENSITIVE_QUERY_KEY.test(key)) query.set(key, '[Redacted]');
  return `${url.slice(0, start)}?${query.toString()}`;
}
