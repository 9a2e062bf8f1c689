/** What the service knows of each captcha provider (CAPTCHA_PROVIDER). */

/** Each provider's siteverify API (CAPTCHA_VERIFY_URL overrides it). */
export const CAPTCHA_VERIFY_URLS = {
  turnstile: 'https://challenges.cloudflare.com/turnstile/v0/siteverify',
  hcaptcha: 'https://api.hcaptcha.com/siteverify',
  recaptcha: 'https://www.google.com/recaptcha/api/siteverify',
} as const;

/** Each provider's browser widget: its script, the origins it loads from, the element it fills. */
export const CAPTCHA_WIDGETS = {
  turnstile: {
    script: 'https://challenges.cloudflare.com/turnstile/v0/api.js',
    origins: ['https://challenges.cloudflare.com'],
    className: 'cf-turnstile',
  },
  hcaptcha: {
    script: 'https://js.hcaptcha.com/1/api.js',
    origins: ['https://hcaptcha.com', 'https://*.hcaptcha.com'],
    className: 'h-captcha',
  },
  recaptcha: {
    script: 'https://www.google.com/recaptcha/api.js',
    origins: ['https://www.google.com/recaptcha/', 'https://www.gstatic.com/recaptcha/'],
    className: 'g-recaptcha',
  },
} as const;
