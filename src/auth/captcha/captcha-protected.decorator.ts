import { applyDecorators, UseGuards } from '@nestjs/common';
import { ApiHeader } from '@nestjs/swagger';
import { CaptchaGuard } from './captcha.guard';
import { CAPTCHA_TOKEN_MAX_LENGTH } from './captcha.service';

/** With CAPTCHA_PROVIDER set, the route needs a solved captcha (else 400). */
export const CaptchaProtected = () =>
  applyDecorators(
    UseGuards(CaptchaGuard),
    ApiHeader({
      name: 'X-Captcha-Token',
      required: false,
      // CaptchaService refuses a longer answer (400).
      schema: { type: 'string', maxLength: CAPTCHA_TOKEN_MAX_LENGTH },
      description:
        "The captcha widget's answer, when CAPTCHA_PROVIDER is set (or a `captchaToken` body field)",
    }),
  );
