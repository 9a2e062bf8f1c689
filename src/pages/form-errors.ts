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
