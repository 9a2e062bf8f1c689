import type { INestApplication } from '@nestjs/common';
import {
  DocumentBuilder,
  type OpenAPIObject,
  type SecurityRequirementObject,
  SwaggerModule,
} from '@nestjs/swagger';
import pkg from '../../package.json';
import type { AppConfig } from '../config/app-config';
import { APIKEY_SCHEME, BEARER_SCHEME, SESSION_SCHEME } from '../auth/decorators/security-schemes';

/** Security scheme names used by `@ApiBearerAuth` / `@ApiCookieAuth` on routes. */

/** Swagger UI at /docs and the OpenAPI document at /docs-json, generated from the code. */
export function setUpSwagger(app: INestApplication, config: AppConfig): void {
  const document = new DocumentBuilder()
    .setTitle('Auth service')
    .setDescription(
      'Cookie sessions and JWT bearer tokens behind one global guard. ' +
        'Sign in with POST /api/auth/session (cookie) or POST /api/auth/token (bearer).',
    )
    .setVersion(pkg.version)
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }, BEARER_SCHEME)
    .addCookieAuth(config.session.cookieName, { type: 'apiKey', in: 'cookie' }, SESSION_SCHEME)
    .addApiKey({ type: 'apiKey', in: 'header', name: 'X-API-Key' }, APIKEY_SCHEME)
    // Every route needs one of the two unless it says otherwise (@Public, @Auth).
    .addSecurityRequirements(BEARER_SCHEME)
    .addSecurityRequirements(SESSION_SCHEME)
    .addSecurityRequirements(APIKEY_SCHEME)
    .build();
  SwaggerModule.setup('docs', app, () => withCommonResponses(SwaggerModule.createDocument(app, document)), {
    jsonDocumentUrl: 'docs-json',
    yamlDocumentUrl: 'docs-yaml',
    swaggerOptions: {
      persistAuthorization: true,
      withCredentials: true,
      requestInterceptor: addCsrfToken,
    },
  });
}

/** Answers every operation can give, said once here rather than on each route. */
function withCommonResponses(document: OpenAPIObject): OpenAPIObject {
  for (const path of Object.values(document.paths)) {
    for (const method of ['get', 'put', 'post', 'delete', 'patch'] as const) {
      const operation = path[method];
      if (!operation) continue;
      // Any input can be malformed: a body, a path id, a query parameter.
      if (operation.requestBody || operation.parameters?.length)
        operation.responses['400'] ??= { description: 'Invalid input: `message` lists every fault' };
      if (!isPublic(operation.security)) operation.responses['401'] ??= { description: 'Not authenticated' };
    }
  }
  return document;
}

function isPublic(security: SecurityRequirementObject[] | undefined): boolean {
  return security !== undefined && security.every((requirement) => Object.keys(requirement).length === 0);
}

/**
 * Runs in the browser, inside Swagger UI (serialised into its init script, which
 * the CSP allows as a same-origin file). Cookie-authenticated "Try it out" calls
 * with an unsafe method need the session's CSRF token: fetch it from
 * GET /api/auth/csrf and send it as X-CSRF-Token. Bearer calls need none.
 */
async function addCsrfToken(request: { method: string; headers: Record<string, string> }) {
  const unsafe = !['GET', 'HEAD', 'OPTIONS'].includes(request.method.toUpperCase());
  if (unsafe && !request.headers.Authorization) {
    const response = await fetch('/api/auth/csrf', { credentials: 'same-origin' });
    if (response.ok)
      request.headers['X-CSRF-Token'] = ((await response.json()) as { csrfToken: string }).csrfToken;
  }
  return request;
}
