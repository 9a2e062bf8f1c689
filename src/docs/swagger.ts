import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import pkg from '../../package.json';
import type { AppConfig } from '../config/app-config';
import { APIKEY_SCHEME, BEARER_SCHEME, SESSION_SCHEME } from '../auth/decorators/security-schemes';
import { completeDocument } from './complete-document';

/** The tags in the order Swagger UI shows them: signing in first. */
const TAGS: [name: string, description: string][] = [
  ['auth', 'Sign-up, sign-in (cookie session or tokens), second factors, passkeys, recovery'],
  ['sessions', "The caller's sign-ins, one per device"],
  ['keys', 'API keys for scripts and services'],
  ['users', 'Accounts (admin, or the user themself)'],
  ['roles', 'Roles (admin)'],
  ['audit', 'Security events (admin)'],
  ['operations', 'Health, service information and the keys that verify access tokens'],
];

/** Swagger UI at /docs and the OpenAPI document at /docs-json, generated from the code. */
export function setUpSwagger(app: INestApplication, config: AppConfig): void {
  const builder = new DocumentBuilder()
    .setTitle('Auth service')
    .setDescription(
      'Cookie sessions and JWT bearer tokens behind one global guard. ' +
        'Sign in with POST /api/auth/session (cookie) or POST /api/auth/token (bearer).',
    )
    .setVersion(pkg.version)
    .addBearerAuth(
      {
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'JWT',
        description:
          'An access token from POST /api/auth/token: a JWS (ES256 by default, keys at /.well-known/jwks.json; ' +
          'HS256 by choice) following RFC8725 (JWT Best Current Practices): one algorithm accepted per key, ' +
          'never `none`, `typ: at+jwt` (RFC 9068), issuer, audience and expiry checked, lifetime ACCESS_TOKEN_TTL_SECONDS',
      },
      BEARER_SCHEME,
    )
    .addCookieAuth(config.session.cookieName, { type: 'apiKey', in: 'cookie' }, SESSION_SCHEME)
    .addApiKey({ type: 'apiKey', in: 'header', name: 'X-API-Key' }, APIKEY_SCHEME)
    // Every route needs one of the three unless it says otherwise (@Public, @Auth).
    .addSecurityRequirements(BEARER_SCHEME)
    .addSecurityRequirements(SESSION_SCHEME)
    .addSecurityRequirements(APIKEY_SCHEME);
  for (const [name, description] of TAGS) builder.addTag(name, description);
  const facts = {
    generalBudget: config.abuse.apiRateLimit > 0,
    emailVerificationRequired: config.account.emailVerification === 'required',
  };
  SwaggerModule.setup(
    'docs',
    app,
    () => completeDocument(SwaggerModule.createDocument(app, builder.build()), facts),
    {
      jsonDocumentUrl: 'docs-json',
      yamlDocumentUrl: 'docs-yaml',
      swaggerOptions: {
        persistAuthorization: true,
        withCredentials: true,
        requestInterceptor: addCsrfToken,
      },
    },
  );
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
