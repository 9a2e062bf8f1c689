import type { NestExpressApplication } from '@nestjs/platform-express';
import { json, urlencoded, type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import type { AppConfig } from '../config/app-config';
import { CAPTCHA_WIDGETS } from '../config/captcha-providers';

/** Bodies are small JSON or form posts; anything bigger is refused with 413 before parsing. */
export const BODY_LIMIT = '16kb';

/**
 * Transport and browser-side protections, in one place:
 * - helmet: a CSP that Swagger UI and the server-rendered pages work under (no
 *   inline scripts; inline styles for Swagger UI), framing refused
 *   (frame-ancestors 'none' and X-Frame-Options), nosniff, no referrer leaks, HSTS
 *   in production only (a development server on http://localhost must not pin HTTPS);
 * - CORS only for CORS_ORIGINS, with credentials, and no CORS headers otherwise;
 * - `Cache-Control: no-store` on every response but the static `/assets/`: API
 *   answers and pages carry personal data or credentials and must not sit in a
 *   shared or browser cache (nor come back with the back button after sign-out);
 *   a route that is meant to be cached sets its own `Cache-Control`;
 * - body size limits, and TRACE/TRACK refused with 405.
 */
export function applyHttpSecurity(app: NestExpressApplication, config: AppConfig): void {
  // The captcha widget (signup and forgot-password pages) loads from its provider.
  const widget: readonly string[] = config.captcha ? CAPTCHA_WIDGETS[config.captcha.provider].origins : [];
  const headers = helmetHeaders(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          'default-src': ["'self'"],
          'script-src': ["'self'", ...widget],
          'frame-src': ["'self'", ...widget],
          'style-src': ["'self'", "'unsafe-inline'"],
          'img-src': ["'self'", 'data:'],
          'font-src': ["'self'", 'data:'],
          'connect-src': ["'self'", ...widget],
          'form-action': ["'self'"],
          'frame-ancestors': ["'none'"],
          'base-uri': ["'self'"],
          'object-src': ["'none'"],
          ...(config.isProduction ? { 'upgrade-insecure-requests': [] } : {}),
        },
      },
      strictTransportSecurity: config.isProduction ? { maxAge: 31_536_000, includeSubDomains: true } : false,
      frameguard: { action: 'deny' },
      referrerPolicy: { policy: 'no-referrer' },
    }),
  );
  app.use(securityHeaders(headers));
  if (config.corsOrigins.length) {
    const allowed = new Set(config.corsOrigins);
    // Decided per request: the cors package would otherwise send
    // Access-Control-Allow-Credentials to origins it does not allow.
    app.enableCors((req: Request, callback) =>
      callback(
        null,
        allowed.has(req.header('origin') ?? '')
          ? {
              origin: true,
              credentials: true,
              methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
              allowedHeaders: ['Content-Type', 'Authorization', 'X-CSRF-Token', 'X-Request-Id'],
              exposedHeaders: ['X-Request-Id', 'Retry-After', 'RateLimit', 'RateLimit-Policy'],
              maxAge: 600,
            }
          : { origin: false },
      ),
    );
  }
  app.use(bodyParsers());
}

/**
 * JSON and form bodies, with our size limit, as one layer that lets a request
 * without a body (most of them: GET, HEAD, DELETE) straight through: the parsers
 * would each check that for themselves, on every request.
 */
function bodyParsers() {
  const parseJson = json({ limit: BODY_LIMIT });
  const parseForm = urlencoded({ limit: BODY_LIMIT, extended: false });
  return function bodyParsers(req: Request, res: Response, next: NextFunction): void {
    // RFC 9112 section 6.3: a request has a body when it says how long it is or how it is framed.
    if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined) {
      next();
      return;
    }
    parseJson(req, res, (error?: unknown) => (error ? next(error) : parseForm(req, res, next)));
  };
}

type HeaderList = readonly (readonly [name: string, value: string])[];

/**
 * The headers helmet sets, worked out once at start. Our directives are fixed (no
 * per-request nonce), so helmet would compute the same values on every request
 * through twelve nested middlewares; this runs it once against a recording response
 * and copies the result, so helmet stays the one source of those values.
 */
function helmetHeaders(
  middleware: (req: Request, res: Response, next: (error?: unknown) => void) => void,
): HeaderList {
  const headers: [string, string][] = [];
  let failure: Error | undefined;
  const recorder = {
    setHeader: (name: string, value: string | number | readonly string[]) =>
      headers.push([name, String(value)]),
    removeHeader: () => undefined,
  };
  middleware({ headers: {} } as Request, recorder as unknown as Response, (error) => {
    if (error) failure = error instanceof Error ? error : new Error('helmet refused its options');
  });
  if (failure) throw failure;
  return headers;
}

const STATIC_ASSET = /^\/assets\//i;

/**
 * One middleware for every response: TRACE/TRACK refused, helmet's headers, and
 * `no-store` everywhere but the static assets.
 */
function securityHeaders(headers: HeaderList) {
  return function securityHeaders(req: Request, res: Response, next: NextFunction): void {
    for (const [name, value] of headers) res.setHeader(name, value);
    if (!STATIC_ASSET.test(req.url)) {
      res.setHeader('Cache-Control', 'no-store');
      res.setHeader('Pragma', 'no-cache');
    }
    if (req.method === 'TRACE' || req.method === 'TRACK') refuseTrace(req, res);
    else next();
  };
}

function refuseTrace(req: Request, res: Response): void {
  res.setHeader('Allow', 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS');
  res
    .status(405)
    .json({ statusCode: 405, error: 'Method Not Allowed', message: `${req.method} is not allowed` });
}
