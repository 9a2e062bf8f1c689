import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { Response } from 'express';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { AUTH_OPTIONS, type AuthOptions } from '../auth.options';
import { Public } from '../decorators/public.decorator';
import { MAX_KID_LENGTH, MAX_PUBLISHED_SIGNING_KEYS } from './signing-key.entity';
import { type PublicJwk, SigningKeysService } from './signing-keys.service';

/**
 * Verifiers cache the key set at most this long, and never longer than an access
 * token lives. A new key signs at once after a rotation: a verifier meeting an unknown
 * `kid` must fetch the set again (jose's createRemoteJWKSet does, but at most once per
 * `cooldownDuration`, 30 s by default: the README says to shorten it).
 */
const MAX_AGE_SECONDS = 300;

/** The public keys that verify access tokens (RFC 7517), for other services. */
@ApiTags('operations')
@Controller('.well-known')
export class JwksController {
  private readonly cacheControl: string;

  constructor(
    private readonly keys: SigningKeysService,
    @Inject(AUTH_OPTIONS) options: AuthOptions,
  ) {
    this.cacheControl = `public, max-age=${Math.min(MAX_AGE_SECONDS, options.jwt.accessTokenTtlSeconds)}`;
  }

  @Public()
  @Get('jwks.json')
  @ApiOkResponse({
    description:
      'Only public parts; a retired key stays until the last token it signed has expired. HS256: empty',
    schema: {
      type: 'object',
      required: ['keys'],
      properties: {
        keys: {
          type: 'array',
          // Rotation on demand is refused beyond it (409).
          maxItems: MAX_PUBLISHED_SIGNING_KEYS,
          items: {
            type: 'object',
            description: 'A P-256 public key (RFC 7517, RFC 7518 section 6.2)',
            required: ['kty', 'crv', 'x', 'y', 'kid', 'alg', 'use'],
            properties: {
              kty: { type: 'string', enum: ['EC'] },
              crv: { type: 'string', enum: ['P-256'] },
              // A 32-byte coordinate in base64url.
              x: { type: 'string', maxLength: 43 },
              y: { type: 'string', maxLength: 43 },
              kid: { type: 'string', maxLength: MAX_KID_LENGTH },
              alg: { type: 'string', enum: ['ES256'] },
              use: { type: 'string', enum: ['sig'] },
            },
          },
        },
      },
    },
  })
  jwks(@Res({ passthrough: true }) res: Response): { keys: PublicJwk[] } {
    res.setHeader('Cache-Control', this.cacheControl);
    return this.keys.enabled ? this.keys.jwks() : { keys: [] };
  }
}
