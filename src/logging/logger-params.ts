import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Params } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import type { AppConfig } from '../config/app-config';

const REQUEST_ID = /^[\w.:-]{1,64}$/;
const SENSITIVE_QUERY_KEY = /token|password|secret|session|code|key|csrf|auth/i;

/**
 * Structured JSON request logs with a request id (the caller's X-Request-Id when it
 * is well-formed, else a new UUID, echoed back in the response). A request line holds
 * the id, method, URL (query values whose names suggest a credential masked), client
 * address and user agent, the status and the time taken: never a body, and no other
 * header, so no credential can reach it and no redaction pass runs per line (logging
 * every header through a redaction pass cost more than the rest of the line).
 */
export function loggerParams(config: AppConfig, stream?: DestinationStream): Params {
  const options = {
    level: config.logLevel,
    // Our serializers read the raw request and response: pino-http's wrappers would first
    // copy every field (all headers included) into an object for each request.
    wrapSerializers: false,
    genReqId: (req: IncomingMessage, res: ServerResponse) => {
      const incoming = req.headers['x-request-id'];
      const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
      res.setHeader('X-Request-Id', id);
      return id;
    },
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
