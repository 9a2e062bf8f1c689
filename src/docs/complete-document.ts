import type { OpenAPIObject, OperationObject, PathItemObject, ResponseObject } from '@nestjs/swagger';
import { REQUIRED_ROLES_EXTENSION } from '../roles/roles.decorator';
import { RECENT_AUTHENTICATION_EXTENSION } from '../common/recent-authentication.decorator';
import { ALLOWS_UNVERIFIED_EXTENSION } from '../auth/decorators/allow-unverified.decorator';
import { RATE_LIMIT_BUCKET_EXTENSION } from '../auth/decorators/rate-limited.decorator';
import { SESSION_SCHEME } from '../auth/decorators/security-schemes';
import { MAX_REQUEST_ID_LENGTH } from '../logging/request-logger';
import { MAX_ERROR_MESSAGE_LENGTH, MAX_ERROR_MESSAGES } from '../common/http-exception.filter';

/** What the document states that depends on configuration. */
export interface DocumentFacts {
  /** API_RATE_LIMIT > 0: every route has the general per-IP budget. */
  readonly generalBudget: boolean;
  /** EMAIL_VERIFICATION=required: an unverified user is refused (403) on most routes. */
  readonly emailVerificationRequired: boolean;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch'] as const;
const UNSAFE = new Set(['put', 'post', 'delete', 'patch']);
/** Answered from memory alone: no dependency can make them fail with 503. */
const NO_DEPENDENCIES = new Set(['/api', '/.well-known/jwks.json']);

const ERROR_SCHEMA = 'ErrorResponse';
const error = { 'application/json': { schema: { $ref: `#/components/schemas/${ERROR_SCHEMA}` } } };
const header = (name: string) => ({ $ref: `#/components/headers/${name}` });

/**
 * Completes the generated document with what every route shares and the decorators
 * do not say: the error body; 401, 403, 429, 500 and 503 where they can really
 * happen; the headers every answer carries (rate limits, request id, CORS); and the
 * bounds of identifiers and timestamps, whose format fixes them. Said here once
 * rather than on each route, so that a new route is documented like the others.
 */
export function completeDocument(document: OpenAPIObject, facts: DocumentFacts): OpenAPIObject {
  const components = (document.components ??= {});
  components.schemas = { ...components.schemas, [ERROR_SCHEMA]: ERROR_RESPONSE };
  components.headers = { ...components.headers, ...HEADERS };
  for (const [path, item] of Object.entries<PathItemObject>(document.paths)) {
    for (const method of METHODS) {
      const operation = item[method];
      if (operation) completeOperation(path, method, operation, facts);
    }
  }
  boundFormattedStrings(document);
  return document;
}

function completeOperation(
  path: string,
  method: (typeof METHODS)[number],
  operation: OperationObject,
  facts: DocumentFacts,
): void {
  const responses = operation.responses as Record<string, ResponseObject>;
  const bucket = extension<string>(operation, RATE_LIMIT_BUCKET_EXTENSION);
  const isPublic = operation.security?.every((requirement) => !Object.keys(requirement).length) ?? false;
  const limited = facts.generalBudget || bucket !== undefined;

  for (const parameter of operation.parameters ?? []) {
    // Every `:id` is parsed by ParseUUIDPipe (400 otherwise).
    if ('in' in parameter && parameter.in === 'path' && /(^id|Id)$/.test(parameter.name))
      parameter.schema = { type: 'string', format: 'uuid', maxLength: 36 };
  }

  // Any input can be malformed: a body, a path id, a query parameter.
  if (operation.requestBody || operation.parameters?.length)
    responses['400'] ??= { description: 'Invalid input: `message` lists every fault' };
  if (!isPublic) responses['401'] ??= { description: 'Not authenticated' };

  const forbidden = forbiddenReasons(method, operation, isPublic, facts);
  if (responses['403']) forbidden.unshift(responses['403'].description);
  if (forbidden.length) responses['403'] = { description: forbidden.join('; ') };

  if (limited) {
    const reasons = [
      ...(facts.generalBudget ? ['the general budget (API_RATE_LIMIT per API_RATE_WINDOW_SECONDS)'] : []),
      ...(bucket ? [`the \`${bucket}\` budget (AUTH_RATE_LIMIT per AUTH_RATE_WINDOW_SECONDS)`] : []),
    ];
    const own = responses['429']?.description;
    responses['429'] = {
      description: `Too many requests from this client: ${reasons.join(' or ')}${own ? `; or ${own}` : ''}. Retry-After says when to come back`,
      headers: { 'Retry-After': header('Retry-After') },
    };
  }
  responses['500'] ??= {
    description: 'An unexpected error (a bug): logged with its cause; the body never says more',
  };
  if (!NO_DEPENDENCIES.has(path))
    responses['503'] ??= {
      description: 'A dependency (PostgreSQL, or a configured Redis) cannot be reached; see Retry-After',
    };
  if (responses['503']) responses['503'].headers = { 'Retry-After': header('Retry-After') };

  for (const [status, response] of Object.entries(responses)) {
    if (/^[45]/.test(status)) response.content ??= error;
    response.headers = {
      ...response.headers,
      ...(limited && /^[24]/.test(status)
        ? { RateLimit: header('RateLimit'), 'RateLimit-Policy': header('RateLimit-Policy') }
        : {}),
      'X-Request-Id': header('X-Request-Id'),
      'Access-Control-Allow-Origin': header('Access-Control-Allow-Origin'),
    };
  }
}

/** An `x-` extension a decorator wrote on the operation. */
function extension<T>(operation: OperationObject, key: string): T | undefined {
  return (operation as unknown as Record<string, T | undefined>)[key];
}

/** Why an authenticated route may answer 403, from its decorators and the configuration. */
function forbiddenReasons(
  method: string,
  operation: OperationObject,
  isPublic: boolean,
  facts: DocumentFacts,
): string[] {
  if (isPublic) return [];
  const reasons: string[] = [];
  const roles = extension<string[]>(operation, REQUIRED_ROLES_EXTENSION);
  if (roles?.length) reasons.push(`Needs role: ${roles.join(' or ')}`);
  if (extension<boolean>(operation, RECENT_AUTHENTICATION_EXTENSION))
    reasons.push('`reauthentication required`: prove a factor with POST /api/auth/reauth, then retry');
  // A route without its own requirement takes the document's: every method, the session among them.
  const bySession = operation.security?.some((requirement) => SESSION_SCHEME in requirement) ?? true;
  if (bySession && UNSAFE.has(method))
    reasons.push("Signed in by cookie, without the session's CSRF token in X-CSRF-Token");
  if (facts.emailVerificationRequired && !extension<boolean>(operation, ALLOWS_UNVERIFIED_EXTENSION))
    reasons.push('The email address is not verified yet (EMAIL_VERIFICATION=required)');
  return reasons;
}

/** Strings whose format fixes their length: a UUID's 36 characters, a timestamp as toISOString writes it. */
function boundFormattedStrings(node: unknown): void {
  if (typeof node !== 'object' || node === null) return;
  const schema = node as { type?: unknown; format?: unknown; maxLength?: number };
  if (schema.type === 'string' && schema.maxLength === undefined) {
    if (schema.format === 'uuid') schema.maxLength = 36;
    // Years past 9999 take a sign and two more digits: +275760-09-13T00:00:00.000Z.
    else if (schema.format === 'date-time') schema.maxLength = 27;
  }
  for (const value of Object.values(node)) boundFormattedStrings(value);
}

/** The body of every error (HttpExceptionFilter); `message` is bounded there too. */
const ERROR_RESPONSE = {
  type: 'object',
  required: ['statusCode', 'error', 'message'],
  properties: {
    statusCode: { type: 'integer', format: 'int32', minimum: 400, maximum: 599, example: 400 },
    error: { type: 'string', maxLength: 64, example: 'Bad Request' },
    message: {
      oneOf: [
        { type: 'string', maxLength: MAX_ERROR_MESSAGE_LENGTH },
        {
          type: 'array',
          description:
            'Every fault of the input, one per entry (a long list ends with how many more there were)',
          maxItems: MAX_ERROR_MESSAGES,
          items: { type: 'string', maxLength: MAX_ERROR_MESSAGE_LENGTH },
        },
      ],
      example: ['email must be an email address'],
    },
  },
};

const HEADERS = {
  RateLimit: {
    description:
      'Where this client stands (IETF draft-ietf-httpapi-ratelimit-headers): `"api";r=<requests left>;t=<seconds to the reset>` ' +
      "for the general budget, then an item for the route's own budget when it has one. Sent on every answer of the routes, " +
      'but not when the body was refused before them (malformed JSON, 413)',
    schema: { type: 'string', maxLength: 256, example: '"api";r=2999;t=42' },
  },
  'RateLimit-Policy': {
    description: 'The budgets that apply: `"<name>";q=<requests>;w=<window in seconds>`, comma-separated',
    schema: { type: 'string', maxLength: 256, example: '"api";q=3000;w=60, "login";q=20;w=60' },
  },
  'Retry-After': {
    description: 'Seconds to wait before trying again',
    schema: { type: 'integer', format: 'int32', minimum: 1, maximum: 86_400, example: 30 },
  },
  'X-Request-Id': {
    description: "The request's id in the log: the client's own X-Request-Id if well formed, else a new UUID",
    schema: { type: 'string', maxLength: MAX_REQUEST_ID_LENGTH },
  },
  'Access-Control-Allow-Origin': {
    description:
      "Only when the request's Origin is one of CORS_ORIGINS: that origin (with credentials); else absent",
    schema: { type: 'string', maxLength: 2048, format: 'uri' },
  },
};
