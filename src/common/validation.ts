import {
  type ArgumentMetadata,
  BadRequestException,
  ValidationPipe,
  type ValidationPipeOptions,
} from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';

/**
 * Unknown properties are rejected (no mass assignment), every failing field is
 * listed, and bodies are turned into their DTO classes.
 */
export const VALIDATION_OPTIONS: ValidationPipeOptions = {
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
  transform: true,
};

const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
/** No DTO nests anywhere near this deep; class-transformer overflows its stack on ~1,300 levels. */
const MAX_DEPTH = 16;

/**
 * Checks class-validator cannot make, on bodies and query strings, before they are
 * transformed: no `__proto__`/`constructor` keys (class-transformer skips them
 * silently instead of reporting an unknown property), no NUL characters (PostgreSQL
 * text cannot hold them), and no absurd nesting.
 */
class StrictValidationPipe extends ValidationPipe {
  override transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' || metadata.type === 'query') {
      const fault = findFault(value, 0);
      if (fault) throw new BadRequestException([fault]);
    }
    return super.transform(value, metadata) as Promise<unknown>;
  }
}

function findFault(value: unknown, depth: number): string | undefined {
  if (typeof value === 'string')
    return value.includes('\u0000') ? 'strings must not contain NUL characters' : undefined;
  if (typeof value !== 'object' || value === null) return undefined;
  if (depth >= MAX_DEPTH) return `nesting deeper than ${MAX_DEPTH} levels is not accepted`;
  for (const [key, nested] of Object.entries(value)) {
    if (PROTOTYPE_KEYS.has(key)) return `property ${key} should not exist`;
    if (key.includes('\u0000')) return 'strings must not contain NUL characters';
    const fault = findFault(nested, depth + 1);
    if (fault) return fault;
  }
  return undefined;
}

export const validationPipe = new StrictValidationPipe(VALIDATION_OPTIONS);

/** Validates a body where pipes do not run yet (in a guard). Throws the same 400. */
export function validateBody<T>(type: new () => T, body: unknown): Promise<T> {
  return validationPipe.transform(body ?? {}, { type: 'body', metatype: type }) as Promise<T>;
}

export interface FieldError {
  property: string;
  message: string;
}

/**
 * Validates a body exactly as the global pipe would, but hands back the faults per
 * field instead of throwing, so that a service can add its own (the password rules)
 * and answer them all in one 400. A body that is not an object gets the pipe's 400.
 * `unknown: 'strip'` drops fields the DTO does not describe instead of refusing them
 * (an HTML form also posts `_csrf` and `next`).
 */
export async function checkBody<T extends object>(
  type: new () => T,
  body: unknown,
  { unknown = 'refuse' }: { unknown?: 'refuse' | 'strip' } = {},
): Promise<{ value: T; errors: FieldError[] }> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { value: await validateBody(type, body), errors: [] };
  }
  const fault = findFault(body, 0);
  if (fault) throw new BadRequestException([fault]);
  const value = plainToInstance(type, body);
  const failures = await validate(value, {
    whitelist: true,
    forbidNonWhitelisted: unknown === 'refuse',
    forbidUnknownValues: true,
  });
  const errors = failures.flatMap((failure) =>
    Object.values(failure.constraints ?? {}).map((message) => ({ property: failure.property, message })),
  );
  return { value, errors };
}
