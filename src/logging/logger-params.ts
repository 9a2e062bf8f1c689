import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Params } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import type { AppConfig } from '../config/app-config';

const REQUEST_ID = /^[\w.:-]{1,64}$/;
const SENSITIVE_QUERY_KEY = /token|password|secret|session|code|key|csrf|auth/i;

/** Headers that carry credentials: their values never reach a log line. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-csrf-token"]',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
];

/**
 * Structured JSON request logs with a request id (the caller's X-Request-Id when it
 * is well-formed, else a new UUID, echoed back in the response). Bodies are never
 * logged; query values whose names suggest a credential are masked.
 */
export function loggerParams(config: AppConfig, stream?: DestinationStream): Params {
  const options = {
    level: config.logLevel,
    redact: { paths: REDACTED_PATHS, censor: '[Redacted]' },
    genReqId: (req: IncomingMessage, res: ServerResponse) => {
      const incoming = req.headers['x-request-id'];
      const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
      res.setHeader('X-Request-Id', id);
      return id;
    },
    serializers: {
      req: (req: { id: unknown; method: string; url: string; headers: unknown; remoteAddress?: string }) => ({
        id: req.id,
        method: req.method,
        url: maskQuery(req.url),
        headers: req.headers,
        remoteAddress: req.remoteAddress,
      }),
      // The status is what a request line needs; the response headers (the whole
      // CSP among them) tripled the size and the cost of every line.
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
    // A 503 is a dependency down or an instance draining (its cause is logged on its own
    // line): expected in operation, so a warning, not an error to page someone about.
    customLogLevel: (_req: IncomingMessage, res: ServerResponse, error?: Error) =>
      res.statusCode === 503
        ? 'warn'
        : error || res.statusCode >= 500
          ? 'error'
          : res.statusCode >= 400
            ? 'warn'
            : 'info',
  };
  return { pinoHttp: stream ? [options, stream] : options };
}

function maskQuery(url: string): string {
  const start = url.indexOf('?');
  if (start < 0) return url;
  const query = new URLSearchParams(url.slice(start + 1));
  for (const key of [...query.keys()]) if (SENSITIVE_QUERY_KEY.test(key)) query.set(key, '[Redacted]');
  return `${url.slice(0, start)}?${query.toString()}`;
}
