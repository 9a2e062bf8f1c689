import { performance } from 'node:perf_hooks';
import { signUp, uniqueEmail } from '../support/auth-helpers';
import { SmtpSink } from '../support/smtp-sink';
import { startAppOnFreshDatabase, type TestContext } from '../support/test-app';

const ROUNDS = 40;

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

describe('POST /api/auth/password/forgot timing', () => {
  let sink: SmtpSink;
  let ctx: TestContext;

  beforeAll(async () => {
    sink = await SmtpSink.start();
    // No verification mails at signup: only the reset work runs in the background.
    ctx = await startAppOnFreshDatabase({
      SMTP_URL: sink.url,
      MAIL_RETRY_BASE_SECONDS: '1',
      EMAIL_VERIFICATION: 'off',
    });
  });
  afterAll(async () => {
    await ctx?.close();
    await sink?.stop();
  });

  const timedForgot = async (email: string): Promise<number> => {
    const started = performance.now();
    await ctx.http().post('/api/auth/password/forgot').send({ email }).expect(202);
    return performance.now() - started;
  };

  it('takes about as long for known as for unknown addresses: the work is queued, not done in the request', async () => {
    const known = [];
    for (let i = 0; i < ROUNDS; i++) known.push(await signUp(ctx.http));
    // Warm-up (connections, JIT), counted nowhere.
    for (let i = 0; i < 5; i++) await timedForgot(uniqueEmail('warmup'));

    const knownMs: number[] = [];
    const unknownMs: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      // Alternate which goes first, so that neither always follows the other's background work.
      if (i % 2) {
        knownMs.push(await timedForgot(known[i].email));
        unknownMs.push(await timedForgot(uniqueEmail('nobody')));
      } else {
        unknownMs.push(await timedForgot(uniqueEmail('nobody')));
        knownMs.push(await timedForgot(known[i].email));
      }
    }

    const knownMedian = median(knownMs);
    const unknownMedian = median(unknownMs);
    console.log(
      `forgot-password medians over ${ROUNDS} each: known ${knownMedian.toFixed(2)} ms, unknown ${unknownMedian.toFixed(2)} ms`,
    );
    const [smaller, larger] = [knownMedian, unknownMedian].sort((a, b) => a - b);
    expect(larger).toBeLessThanOrEqual(smaller * 1.5 + 5);

    // The known addresses did get their mail: the work was done, just not in the request.
    const last = await sink.waitFor(known[ROUNDS - 1].email, { timeoutMs: 15_000 });
    expect(last.subject).toMatch(/^Reset your password/);
  });
});
