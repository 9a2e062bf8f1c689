import { applyDecorators, UseGuards } from '@nestjs/common';
import { ApiHeader } from '@nestjs/swagger';
import { CaptchaGuard } from './captcha.guard';

/** With CAPTCHA_PROVIDER set, the route needs a solved captcha (else 400). */
export const CaptchaProtected = () =>
  applyDecorators(
    UseGuards(CaptchaGuard),
    ApiHeader({
      name: 'X-Captcha-Token',
      required: false,
      description:
        "The captcha widget's answer, when CAPTCHA_PROVIDER is set (or a `captchaToken` body field)",
    }),
  );
