import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';

/** The longest X-Request-Id taken from a client (a new one is a 36-character UUID). */
export const MAX_REQUEST_ID_LENGTH = 64;
const REQUEST_ID = new RegExp(`^[\\w.:-]{1,${MAX_REQUEST_ID_LENGTH}}$`);

type Level = 'info' | 'warn' | 'error';

/**
 * A 503 is a dependency down or an instance draining (its cause is logged on its own
 * line): expected in operation, so a warning, not an error to page someone about.
 */
function levelOf(statusCode: number): Level {
  return statusCode === 503 ? 'warn' : statusCode >= 500 ? 'error' : statusCode >= 400 ? 'warn' : 'info';
}

/**
 * The request log: one JSON line per request, written when its response ends, with
 * the request id (the caller's X-Request-Id when it is well-formed, else a new UUID,
 * echoed in the response), the status and the time taken; what else a line holds is
 * the logger's `req` and `res` serializers' (logger-params.ts).
 *
 * Written by hand rather than with pino-http (through nestjs-pino), which serialized
 * the request into a child logger on every request before the line was even due, and
 * ran the rest of each request inside an AsyncLocalStorage, whose promise hooks then
 * cost something on every promise of every request: together a quarter of the service's
 * own work on its cheapest route. Application logs made during a request do not carry
 * its id in consequence (they carry their context, as outside a request).
 */
export function requestLogger(logger: Logger) {
  return function requestLogger(req: Request, res: Response, next: NextFunction): void {
    const started = Date.now();
    const incoming = req.headers['x-request-id'];
    const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    (req as { id?: string }).id = id;
    res.setHeader('X-Request-Id', id);
    // 'close' comes once, after the response is sent or when the connection ends first.
    res.once('close', () => logResponse(logger, req, res, started));
    next();
  };
}

function logResponse(logger: Logger, req: IncomingMessage, res: ServerResponse, started: number): void {
  const { statusCode } = res;
  const level = levelOf(statusCode);
  if (!logger.isLevelEnabled(level)) return;
  // A 5xx's cause (with its stack) is logged where it happened, by the exception filter.
  const msg =
    statusCode >= 500 && statusCode !== 503
      ? 'request errored'
      : res.writableFinished
        ? 'request completed'
        : 'request aborted';
  logger[level]({ req, res, responseTime: Date.now() - started }, msg);
}
