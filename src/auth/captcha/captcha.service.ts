import { BadRequestException, Inject, Injectable } from '@nestjs/common';
import type { Request } from 'express';
import { DependencyUnavailableError } from '../../common/dependency-unavailable';
import { CAPTCHA_WIDGETS } from '../../config/captcha-providers';
import { AUTH_OPTIONS, type AuthOptions } from '../auth.options';

/** The longest captcha answer accepted: providers' tokens are a few hundred to ~2,000 characters. */
export const CAPTCHA_TOKEN_MAX_LENGTH = 4096;

export const CAPTCHA_FAILED = 'Captcha verification failed: solve the captcha and try again';
const VERIFY_TIMEOUT_MS = 5000;

/** The form field each provider's widget posts its answer in. */
export const CAPTCHA_FORM_FIELDS = {
  turnstile: 'cf-turnstile-response',
  hcaptcha: 'h-captcha-response',
  recaptcha: 'g-recaptcha-response',
} as const;

/**
 * The captcha hook (CAPTCHA_PROVIDER, off by default): the client's answer, from the
 * `X-Captcha-Token` header, a `captchaToken` body field or the provider widget's form
 * field, is checked with the provider's siteverify API. All three providers take the
 * same form-encoded request (secret, response, remoteip) and answer `{ success }`,
 * so one small client serves them; their SDKs are browser-side only.
 */
@Injectable()
export class CaptchaService {
  constructor(@Inject(AUTH_OPTIONS) private readonly options: AuthOptions) {}

  get enabled(): boolean {
    return this.options.captcha !== undefined;
  }

  /** What a page needs to show the widget (undefined without a captcha). */
  get widget(): { script: string; className: string; siteKey: string } | undefined {
    const captcha = this.options.captcha;
    if (!captcha) return undefined;
    const { script, className } = CAPTCHA_WIDGETS[captcha.provider];
    return { script, className, siteKey: captcha.siteKey ?? '' };
  }

  /** 400 when the answer is missing or wrong, 503 when the provider cannot be asked. */
  async verify(req: Request): Promise<void> {
    const captcha = this.options.captcha;
    if (!captcha) return;
    const body = (req.body ?? {}) as Record<string, unknown>;
    const answer =
      req.headers['x-captcha-token'] ?? body.captchaToken ?? body[CAPTCHA_FORM_FIELDS[captcha.provider]];
    if (typeof answer !== 'string' || !answer || answer.length > CAPTCHA_TOKEN_MAX_LENGTH)
      throw new BadRequestException(CAPTCHA_FAILED);
    const form = new URLSearchParams({ secret: captcha.secret, response: answer });
    if (req.ip) form.set('remoteip', req.ip);
    let success: unknown;
    try {
      const res = await fetch(captcha.verifyUrl, {
        method: 'POST',
        body: form,
        signal: AbortSignal.timeout(VERIFY_TIMEOUT_MS),
      });
      if (!res.ok) throw new Error(`siteverify answered ${res.status}`);
      success = ((await res.json()) as { success?: unknown }).success;
    } catch (error) {
      throw new DependencyUnavailableError('captcha provider', error);
    }
    if (success !== true) throw new BadRequestException(CAPTCHA_FAILED);
  }
}
