import { generate } from 'otplib/functional';
import type { Test } from 'supertest';
import type TestAgent from 'supertest/lib/agent';
import { sleep } from './auth-helpers';
import type { ReceivedMail, SmtpSink } from './smtp-sink';

/** RFC 6238's step, as the service uses it. */
export const STEP_SECONDS = 30;

/** A signed-in caller: a bearer access token, or a session cookie with its CSRF token. */
export type Caller = { bearer: string } | { cookie: string; csrfToken: string };

/** `req` sent as `caller` (the CSRF header included for a cookie). */
export function as(req: Test, caller: Caller): Test {
  return 'bearer' in caller
    ? req.set('Authorization', `Bearer ${caller.bearer}`)
    : req.set('Cookie', caller.cookie).set('X-CSRF-Token', caller.csrfToken);
}

/** The TOTP time-step now. */
export const currentStep = () => Math.floor(Date.now() / 1000 / STEP_SECONDS);

/**
 * Waits while less than `marginMs` is left of the current step, so that a code
 * computed now for a given offset still has that offset when the service checks it.
 */
export async function awayFromStepEdge(marginMs = 2000): Promise<void> {
  const intoStep = Date.now() % (STEP_SECONDS * 1000);
  const left = STEP_SECONDS * 1000 - intoStep;
  if (left < marginMs) await sleep(left + 50);
}

/**
 * The code of the step `offset` steps from now (0: now, 1: the next, -1: the previous),
 * computed away from a step's edge.
 */
export async function totpCode(secret: string, offset = 0): Promise<string> {
  await awayFromStepEdge();
  return generate({ secret, epoch: Math.floor(Date.now() / 1000) + offset * STEP_SECONDS });
}

/** Six digits that are no code of the previous, current or next step. */
export async function wrongCode(secret: string): Promise<string> {
  const near = new Set(await Promise.all([-2, -1, 0, 1, 2].map((offset) => totpCode(secret, offset))));
  for (let n = 123456; ; n = (n + 111111) % 1_000_000) {
    const code = String(n).padStart(6, '0');
    if (!near.has(code)) return code;
  }
}

export interface TotpOn {
  secret: string;
  recoveryCodes: string[];
}

/**
 * Turns TOTP on for `caller`'s user through the API (set-up, then confirmation) and
 * returns the seed and the recovery codes. The confirmation spends the code of the
 * previous step, so the current and the next step stay free for the test.
 */
export async function enableTotp(http: () => TestAgent, caller: Caller): Promise<TotpOn> {
  const setup = await as(http().post('/api/auth/mfa/totp'), caller);
  if (setup.status !== 200)
    throw new Error(`TOTP set-up answered ${setup.status}: ${JSON.stringify(setup.body)}`);
  const secret = (setup.body as { secret: string }).secret;
  const confirm = await as(http().post('/api/auth/mfa/totp/confirm'), caller).send({
    code: await totpCode(secret, -1),
  });
  if (confirm.status !== 200)
    throw new Error(`TOTP confirmation answered ${confirm.status}: ${JSON.stringify(confirm.body)}`);
  return { secret, recoveryCodes: (confirm.body as { recoveryCodes: string[] }).recoveryCodes };
}

/**
 * Waits for the security-notice mail to `address` whose text contains `change`
 * (subject "A change to how you sign in · <SERVICE_NAME>"), and returns it.
 */
export async function securityNotice(
  sink: SmtpSink,
  address: string,
  serviceName: string,
  change: string,
  timeoutMs = 10_000,
): Promise<ReceivedMail> {
  const subject = `A change to how you sign in · ${serviceName}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const mail = sink.to(address).find((m) => m.subject === subject && m.text.includes(change));
    if (mail) return mail;
    if (Date.now() > deadline)
      throw new Error(
        `no security notice "${change}" to ${address} within ${timeoutMs} ms; got: ${JSON.stringify(
          sink.to(address).map((m) => ({ subject: m.subject, text: m.text })),
        )}`,
      );
    await sleep(20);
  }
}
