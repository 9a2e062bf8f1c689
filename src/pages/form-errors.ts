import type { HttpException } from '@nestjs/common';
import { checkBody } from '../common/validation';

/**
 * Validates a form with the same DTO as the JSON API, but answers one message per
 * field, to be shown next to that field. Unknown fields (`_csrf`, `next`) are
 * dropped, and an empty field counts as not filled in (forms always send them).
 */
export async function checkForm<T extends object>(
  type: new () => T,
  body: unknown,
): Promise<{ value: T; errors: Record<string, string> }> {
  const fields = Object.entries(typeof body === 'object' && body !== null ? body : {}).filter(
    ([, field]) => field !== '',
  );
  const { value, errors } = await checkBody(type, Object.fromEntries(fields), { unknown: 'strip' });
  const byField: Record<string, string> = {};
  // The first fault of each field: the one the form shows next to it.
  for (const { property, message } of errors) byField[property] ??= message;
  return { value, errors: byField };
}

/** The first message of a refusal from a service, to show next to the field it is about. */
export function messageOf(error: HttpException): string {
  const payload = error.getResponse() as { message?: string | string[] };
  const message = Array.isArray(payload.message) ? payload.message[0] : payload.message;
  return message ?? error.message;
}
