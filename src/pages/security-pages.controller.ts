import {
  BadRequestException,
  Body,
  ConflictException,
  Controller,
  ForbiddenException,
  Get,
  HttpException,
  Param,
  ParseUUIDPipe,
  Post,
  Query,
  Req,
  Res,
  UseFilters,
} from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { ApiKeysService } from '../auth/api-keys/api-keys.service';
import { CreateApiKeyDto } from '../auth/api-keys/dto/api-key.dto';
import { Auth } from '../auth/decorators/auth.decorator';
import { RateLimited } from '../auth/decorators/rate-limited.decorator';
import { TotpCodeDto } from '../auth/mfa/dto/mfa.dto';
import { SecondFactorsService } from '../auth/mfa/second-factors.service';
import type { TotpSetup } from '../auth/mfa/totp.service';
import { PasskeysService } from '../auth/passkeys/passkeys.service';
import { ReauthDto } from '../auth/dto/change-password.dto';
import { REAUTHENTICATION_REQUIRED, Reauthentication } from '../auth/reauthentication.service';
import { checkForm, messageOf } from './form-errors';
import { PageExceptionFilter } from './page-exception.filter';
import { PageRenderer } from './page-renderer';

const LOCKED = 'Too many failed attempts for this account: try again later.';

/** What /security says when a form sends the browser back to it with `?status=` (a Map: `constructor` finds nothing). */
const NOTICES = new Map([
  ['totp-off', 'Two-step sign-in with an authenticator app is off. Its recovery codes no longer work.'],
  ['passkey-added', 'Passkey added: you can sign in with it now.'],
  ['passkey-removed', 'Passkey removed: it no longer signs in.'],
  ['reauthenticated', 'Thank you: you can change these settings now.'],
  ['confirm-first', 'Adding a passkey needs a recent sign-in: confirm it is you first, then add it.'],
  ['key-revoked', 'API key revoked: it no longer works, on any instance.'],
]);

/** The expiry choices of the API-key form (days; '' = never), as GitHub and most consoles offer them. */
const KEY_LIFETIMES_DAYS = new Map([
  ['', undefined],
  ['7', 7],
  ['30', 30],
  ['90', 90],
  ['365', 365],
]);
const DAY_MS = 86_400_000;

/**
 * The QR code exactly as `qrcode` draws it (an `<svg>` of `<path>`s with plain
 * attributes), or nothing: the page embeds it as markup, so anything else (a script,
 * an event handler, a foreign element) is never let through, whatever produced it.
 */
const QR_SVG =
  /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"(?: (?:width|height|viewBox|shape-rendering)="[\w .#-]*")*>(?:<path(?: (?:fill|stroke|d)="[\w .#-]*")+\/>)+<\/svg>\s*$/;

/**
 * The signed-in user's second factors: TOTP (set-up with its QR code and secret,
 * confirmation, turning off, new recovery codes, the codes shown once), passkeys
 * (listed with their last use, removed here; added by passkeys.js through the JSON
 * API, since WebAuthn needs JavaScript), and the "confirm it is you" forms that make
 * the sign-in recent again. The services are called directly, so the sensitive
 * actions check `requireRecent` here (the decorator guards the API routes only).
 */
@ApiExcludeController()
@UseFilters(PageExceptionFilter)
@Controller('security')
export class SecurityPagesController {
  constructor(
    private readonly factors: SecondFactorsService,
    private readonly passkeys: PasskeysService,
    private readonly apiKeys: ApiKeysService,
    private readonly reauth: Reauthentication,
    private readonly pages: PageRenderer,
  ) {}

  @Auth('session')
  @Get()
  page(@Req() req: Request, @Res() res: Response, @Query('status') status?: string): Promise<void> {
    return this.render(req, res, { status: typeof status === 'string' ? NOTICES.get(status) : undefined });
  }

  /** A new pending seed: its QR code, the secret to type instead, and the form that confirms it. */
  @Auth('session')
  @Post('totp')
  beginTotp(@Req() req: Request, @Res() res: Response): Promise<void> {
    return this.sensitive(req, res, async () => {
      let setup: TotpSetup;
      try {
        setup = await this.factors.beginTotp(req.auth!.user);
      } catch (error) {
        if (error instanceof ConflictException)
          return this.render(req, res, { totpError: 'Two-step sign-in is on already.', totpOn: true }, 409);
        throw error;
      }
      await this.render(req, res, { setup: this.setupView(setup) });
    });
  }

  /** The first code from the app turns TOTP on; the recovery codes are shown now, and never again. */
  @Auth('session')
  @RateLimited('password')
  @Post('totp/confirm')
  async confirmTotp(
    @Req() req: Request,
    @Res() res: Response,
    @Body() body: Record<string, unknown>,
  ): Promise<void> {
    const { value, errors } = await checkForm(TotpCodeDto, body);
    const retry = (status: number, code: string) =>
      this.render(req, res, { confirming: true, confirmErrors: { code } }, status);
    if (errors.code) return retry(400, 'Enter the 6 digits your authenticator app shows.');
    let recoveryCodes: string[];
    try {
      recoveryCodes = await this.factors.confirmTotp(req, req.auth!.user, value.code);
    } catch (error) {
      if (error instanceof BadRequestException) return retry(400, `${messageOf(error)}.`);
      throw error;
    }
    await this.render(req, res, {
      totpOn: true,
      recoveryCodes,
      status: 'Two-step sign-in is on: from now on, signing in with your password also asks for a code.',
    });
  }

  @Auth('session')
  @Post('totp/remove')
  removeTotp(@Req() req: Request, @Res() res: Response): Promise<void> {
    return this.sensitive(req, res, async () => {
      await this.factors.removeTotp(req, req.auth!.user);
      res.redirect(303, '/security?status=totp-off');
    });
  }

  @Auth('session')
  @Post('recovery-codes')
  newRecoveryCodes(@Req() req: Request, @Res() res: Response): Promise<void> {
    return this.sensitive(req, res, async () => {
      let recoveryCodes: string[];
      try {
        recoveryCodes = await this.factors.newRecoveryCodes(req, req.auth!.user);
      } catch (error) {
        if (error instanceof ConflictException)
          return this.render(req, res, { totpError: `${messageOf(error)}.`, totpOn: false }, 409);
        throw error;
      }
      await this.render(req, res, {
        totpOn: true,
        recoveryCodes,
        status: 'New recovery codes: the old ones no longer work.',
      });
    });
  }

  @Auth('session')
  @Post('passkeys/:id/remove')
  removePasskey(
    @Req() req: Request,
    @Res() res: Response,
    @Param('id', ParseUUIDPipe) id: string,
  ): Promise<void> {
    return this.sensitive(req, res, async () => {
      await this.passkeys.delete(req, req.auth!.user, id);
      res.redirect(303, '/security?status=passkey-removed');
    });
  }

  /**
   * A new API key (a sensitive action, like POST /api/keys): shown on this answer only,
   * with the roles ticked (at most the user's) and an expiry from the list.
   */
  @Auth('session')
  @RateLimited('password')
  @Post('keys')
  createKey(@Req() req: Request, @Res() res: Response, @Body() body: Record<string, unknown>): Promise<void> {
    return this.sensitive(req, res, async () => {
      const fields = typeof body === 'object' && body !== null ? body : {};
      // Unticked boxes send nothing: no `roles` field is a key with no roles, never "all of them".
      const roles = fields.roles === undefined ? [] : [fields.roles].flat();
      const { value, errors } = await checkForm(CreateApiKeyDto, { name: fields.name, roles });
      const lifetime = typeof fields.expiresInDays === 'string' ? fields.expiresInDays : '';
      const keyErrors: Record<string, string> = {};
      if (errors.name) keyErrors.name = 'Give the key a name (up to 100 characters).';
      if (errors.roles) keyErrors.roles = 'Choose among your roles.';
      if (!KEY_LIFETIMES_DAYS.has(lifetime)) keyErrors.expiresInDays = 'Choose an expiry from the list.';
      const retry = (status: number) =>
        this.render(req, res, { keyErrors, keyForm: { name: fields.name, roles, lifetime } }, status);
      if (Object.keys(keyErrors).length) return retry(400);
      const days = KEY_LIFETIMES_DAYS.get(lifetime);
      let created: { key: string; name: string };
      try {
        created = await this.apiKeys.create(req, req.auth!.user, {
          name: value.name,
          roles: value.roles ?? [],
          expiresAt: days === undefined ? undefined : new Date(Date.now() + days * DAY_MS),
        });
      } catch (error) {
        // The account holds as many keys as it may: said next to the form, not as an error page.
        if (error instanceof ConflictException) {
          keyErrors.name = `${messageOf(error)}.`;
          return retry(409);
        }
        if (!(error instanceof BadRequestException)) throw error;
        keyErrors.roles = `${messageOf(error)}.`;
        return retry(400);
      }
      await this.render(req, res, { newKey: { name: created.name, key: created.key } });
    });
  }

  /** Revoking needs no recent sign-in (as DELETE /api/keys/:id): taking a credential away is always safe. */
  @Auth('session')
  @Post('keys/:id/revoke')
  async revokeKey(
    @Req() req: Request,
    @Res() res: Response,
    @Param('id', ParseUUIDPipe) id: string,
  ): Promise<void> {
    await this.apiKeys.revoke(req, req.auth!.user.id, id);
    res.redirect(303, '/security?status=key-revoked');
  }

  /** "Confirm it is you": the password, or a code from the authenticator app; the sign-in is recent again. */
  @Auth('session')
  @RateLimited('password')
  @Post('reauth')
  async reauthenticate(
    @Req() req: Request,
    @Res() res: Response,
    @Body() body: Record<string, unknown>,
  ): Promise<void> {
    // Each of the two forms sends one field; only those two are read (never a passkey or a recovery code here).
    const fields = typeof body === 'object' && body !== null ? body : {};
    const { value, errors } = await checkForm(ReauthDto, { password: fields.password, code: fields.code });
    const field = 'code' in fields && !('password' in fields) ? 'code' : 'password';
    const retry = (status: number, message: string) =>
      this.render(req, res, { reauthErrors: { [field]: message } }, status);
    if (field === 'password' && (errors.password || value.password === undefined))
      return retry(400, 'Enter your password.');
    if (field === 'code' && (errors.code || value.code === undefined))
      return retry(400, 'Enter the 6 digits your authenticator app shows.');
    try {
      await this.reauth.reauthenticate(
        req,
        field === 'password' ? { password: value.password } : { code: value.code },
      );
    } catch (error) {
      if (error instanceof ForbiddenException)
        return retry(403, field === 'password' ? 'Password is incorrect.' : 'This code is not valid.');
      if (error instanceof HttpException && error.getStatus() === 429) {
        this.pages.retryAfter(res, error);
        return retry(429, LOCKED);
      }
      throw error;
    }
    res.redirect(303, '/security?status=reauthenticated');
  }

  /**
   * Runs a sensitive action when the sign-in is recent; otherwise the page again (403)
   * with the "confirm it is you" forms, and nothing done.
   */
  private async sensitive(req: Request, res: Response, action: () => Promise<void>): Promise<void> {
    if (!(await this.isRecent(req))) return this.render(req, res, { actionRefused: true }, 403);
    await action();
  }

  private async isRecent(req: Request): Promise<boolean> {
    try {
      await this.reauth.requireRecent(req);
      return true;
    } catch (error) {
      if (error instanceof ForbiddenException && messageOf(error) === REAUTHENTICATION_REQUIRED) return false;
      throw error;
    }
  }

  private setupView(setup: TotpSetup): { secret: string; otpauthUri: string; qrCodeSvg?: string } {
    return {
      secret: setup.secret,
      otpauthUri: setup.otpauthUri,
      qrCodeSvg: QR_SVG.test(setup.qrCodeSvg) ? setup.qrCodeSvg : undefined,
    };
  }

  private async render(
    req: Request,
    res: Response,
    locals: Record<string, unknown>,
    status = 200,
  ): Promise<void> {
    const user = req.auth!.user;
    const [passkeys, keys, recent] = await Promise.all([
      this.passkeys.list(user.id),
      this.apiKeys.list(user.id),
      this.isRecent(req),
    ]);
    // The key form as it was sent (kept on a retry), or as it starts: every role ticked, no expiry.
    const { keyForm: sent, ...rest } = locals;
    const keyForm = (sent as { name?: unknown; roles: unknown[]; lifetime: string } | undefined) ?? {
      roles: user.roles.map((role) => role.name),
      lifetime: '',
    };
    const totpOn = typeof locals.totpOn === 'boolean' ? locals.totpOn : user.totpEnabled;
    this.pages.render(
      req,
      res,
      'security',
      {
        title: 'Security',
        passkeyScripts: true,
        totpOn,
        // The sign-in is not recent: the "confirm it is you" forms come first.
        reauth:
          recent && !locals.reauthErrors
            ? undefined
            : { refused: locals.actionRefused === true, errors: locals.reauthErrors ?? {} },
        passkeys: passkeys.map((passkey) => ({
          id: passkey.id,
          name: passkey.name,
          createdAt: formatTime(passkey.createdAt),
          lastUsedAt: passkey.lastUsedAt ? formatTime(passkey.lastUsedAt) : 'Never',
        })),
        apiKeys: keys.map((key) => ({
          id: key.id,
          name: key.name,
          prefix: key.prefix,
          roles: key.roles.length ? key.roles.join(', ') : 'none',
          createdAt: formatTime(key.createdAt),
          expiresAt: key.expiresAt ? formatTime(key.expiresAt) : 'Never',
          lastUsedAt: key.lastUsedAt ? formatTime(key.lastUsedAt) : 'Never',
        })),
        keyForm: {
          name: typeof keyForm.name === 'string' ? keyForm.name : '',
          roles: user.roles.map((role) => ({ name: role.name, checked: keyForm.roles.includes(role.name) })),
          lifetimes: [...KEY_LIFETIMES_DAYS.keys()].map((days) => ({
            value: days,
            label: days ? `${days} days` : 'Never',
            selected: days === keyForm.lifetime,
          })),
        },
        keyErrors: {},
        confirmErrors: {},
        ...rest,
        showConfirm: !totpOn && (locals.setup !== undefined || locals.confirming === true),
      },
      status,
    );
  }
}

function formatTime(date: Date): string {
  return date.toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
}
