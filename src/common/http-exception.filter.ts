import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import type { Response } from 'express';
import {
  DependencyUnavailableError,
  isDependencyUnavailable,
  UNAVAILABLE_MESSAGE,
} from './dependency-unavailable';

interface ErrorBody {
  statusCode: number;
  error: string;
  message: string | string[];
}

/** Errors raised by Express body parsing before Nest sees the request. */
const BODY_PARSER_ERRORS: Record<string, { status: number; message: string }> = {
  'entity.parse.failed': { status: 400, message: 'Malformed JSON in request body' },
  'entity.too.large': { status: 413, message: 'Request body is too large' },
  'encoding.unsupported': { status: 415, message: 'Unsupported request body encoding' },
  'charset.unsupported': { status: 415, message: 'Unsupported request body charset' },
  'request.aborted': { status: 400, message: 'Request body was not received completely' },
  'request.size.invalid': { status: 400, message: 'Request body size does not match Content-Length' },
};

/**
 * Every error leaves as `{ statusCode, error, message }`. Anything that is not an
 * HTTP exception is a bug: it is logged with its stack and the client sees only a
 * generic 500, never SQL, ORM or library text.
 */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Exceptions');

  catch(exception: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    const body = this.toBody(exception);
    if (response.headersSent) return;
    if (body.statusCode === 503) response.setHeader('Retry-After', '5');
    // An exception that knows when to come back (the account lock) says so.
    const retryAfter = (exception as { retryAfterSeconds?: unknown } | null)?.retryAfterSeconds;
    if (typeof retryAfter === 'number') response.setHeader('Retry-After', String(retryAfter));
    response.status(body.statusCode).json(body);
  }

  private toBody(exception: unknown): ErrorBody {
    // Nest wraps body-parser and URL-decoding errors in HttpExceptions that carry the
    // parser's own message (JSON.parse text): answer with ours.
    const cause = exception instanceof HttpException ? exception.cause : exception;
    const parserError =
      BODY_PARSER_ERRORS[(cause as { type?: string } | null)?.type ?? ''] ??
      (cause instanceof URIError ? { status: 400, message: 'Malformed percent-encoding in URL' } : undefined);
    if (parserError) {
      return {
        statusCode: parserError.status,
        error: reasonPhrase(parserError.status),
        message: parserError.message,
      };
    }
    if (exception instanceof DependencyUnavailableError) this.logger.warn(exception.detail);
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const payload = exception.getResponse();
      const message =
        typeof payload === 'object' && payload !== null && 'message' in payload
          ? (payload as { message: string | string[] }).message
          : typeof payload === 'string'
            ? payload
            : exception.message;
      return { statusCode: status, error: reasonPhrase(status), message: bounded(message) };
    }
    if (isDependencyUnavailable(exception)) {
      this.logger.warn(`Database unavailable: ${(exception as Error).message}`);
      return {
        statusCode: HttpStatus.SERVICE_UNAVAILABLE,
        error: reasonPhrase(HttpStatus.SERVICE_UNAVAILABLE),
        message: UNAVAILABLE_MESSAGE,
      };
    }
    this.logger.error(exception instanceof Error ? exception.stack : String(exception));
    return {
      statusCode: HttpStatus.INTERNAL_SERVER_ERROR,
      error: reasonPhrase(HttpStatus.INTERNAL_SERVER_ERROR),
      message: 'Internal server error',
    };
  }
}

/** The error body's bounds, as the API document states them (ErrorResponse). */
export const MAX_ERROR_MESSAGES = 50;
export const MAX_ERROR_MESSAGE_LENGTH = 1024;

/**
 * A message echoes input (an unknown property's name, a value): a 16 kB body could
 * otherwise come back as thousands of faults, or one fault as long as the body.
 */
function bounded(message: string | string[]): string | string[] {
  const cut = (text: string) =>
    text.length > MAX_ERROR_MESSAGE_LENGTH ? `${text.slice(0, MAX_ERROR_MESSAGE_LENGTH - 1)}…` : text;
  if (!Array.isArray(message)) return cut(String(message));
  if (message.length <= MAX_ERROR_MESSAGES) return message.map(cut);
  const more = message.length - (MAX_ERROR_MESSAGES - 1);
  return [...message.slice(0, MAX_ERROR_MESSAGES - 1).map(cut), `… and ${more} more faults`];
}

function reasonPhrase(status: number): string {
  return STATUS_CODES[status] ?? 'Error';
}
