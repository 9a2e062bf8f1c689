import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
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
  app.use(refuseTrace);
  app.use(
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
  app.use(noStoreButAssets);
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
              exposedHeaders: ['X-Request-Id', 'Retry-After'],
              maxAge: 600,
            }
          : { origin: false },
      ),
    );
  }
  app.useBodyParser('json', { limit: BODY_LIMIT });
  app.useBodyParser('urlencoded', { limit: BODY_LIMIT, extended: false });
}

function refuseTrace(req: Request, res: Response, next: NextFunction): void {
  if (req.method !== 'TRACE' && req.method !== 'TRACK') return next();
  res.setHeader('Allow', 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS');
  res
    .status(405)
    .json({ statusCode: 405, error: 'Method Not Allowed', message: `${req.method} is not allowed` });
}

const STATIC_ASSET = /^\/assets\//i;

function noStoreButAssets(req: Request, res: Response, next: NextFunction): void {
  if (!STATIC_ASSET.test(req.path)) {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Pragma', 'no-cache');
  }
  next();
}
