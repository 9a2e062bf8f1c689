import type { HttpException } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';

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
  const value = plainToInstance(type, Object.fromEntries(fields));
  const failures = await validate(value, { whitelist: true });
  const errors = Object.fromEntries(
    failures.map((failure) => [
      failure.property,
      Object.values(failure.constraints ?? {})[0] ?? 'is invalid',
    ]),
  );
  return { value, errors };
}

/** The first message of a refusal from a service, to show next to the field it is about. */
export function messageOf(error: HttpException): string {
  const payload = error.getResponse() as { message?: string | string[] };
  const message = Array.isArray(payload.message) ? payload.message[0] : payload.message;
  return message ?? error.message;
}
