import type { Response } from 'supertest';
import { sleep } from './auth-helpers';

const POLL_INTERVAL_MS = 20;

/** Status and body together, so that a failure shows both. */
export const outcome = (res: Response) => ({ status: res.status, body: res.body as unknown });

/**
 * Repeats `send` every 20 ms until it answers `status`, for at most `timeoutMs`;
 * fails with the last answer and everything seen (a request that failed without an
 * answer, e.g. on a supertest `.timeout()`, is recorded by its error and retried).
 */
export async function eventually(
  send: () => PromiseLike<Response>,
  status: number,
  timeoutMs = 2000,
): Promise<{ res: Response; seen: (number | string)[] }> {
  const deadline = Date.now() + timeoutMs;
  const seen: (number | string)[] = [];
  for (;;) {
    let last: unknown;
    try {
      const res = await send();
      seen.push(res.status);
      if (res.status === status) return { res, seen };
      last = outcome(res);
    } catch (error) {
      seen.push(describeFailure(error));
      last = describeFailure(error);
    }
    if (Date.now() >= deadline) {
      expect({ seen, last }).toEqual({ seen, last: { status, body: expect.anything() } });
    }
    await sleep(POLL_INTERVAL_MS);
  }
}

/** A request that got no HTTP answer: "timeout" for a supertest `.timeout()`, else the error code. */
export function describeFailure(error: unknown): string {
  const { timeout, code, message } = (error ?? {}) as { timeout?: number; code?: string; message?: string };
  if (timeout !== undefined) return 'timeout';
  return code ?? message ?? String(error);
}
