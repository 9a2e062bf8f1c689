import {
  type ArgumentMetadata,
  BadRequestException,
  ValidationPipe,
  type ValidationPipeOptions,
} from '@nestjs/common';

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

/**
 * class-transformer skips `__proto__` silently instead of reporting it as an unknown
 * property; a body that carries one (at any depth) is refused like any other.
 */
class StrictValidationPipe extends ValidationPipe {
  override transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body') {
      const key = findPrototypeKey(value);
      if (key) throw new BadRequestException([`property ${key} should not exist`]);
    }
    return super.transform(value, metadata) as Promise<unknown>;
  }
}

function findPrototypeKey(value: unknown, depth = 0): string | undefined {
  if (typeof value !== 'object' || value === null || depth > 32) return undefined;
  for (const key of Object.keys(value)) {
    if (PROTOTYPE_KEYS.has(key)) return key;
    const nested = findPrototypeKey((value as Record<string, unknown>)[key], depth + 1);
    if (nested) return nested;
  }
  return undefined;
}

export const validationPipe = new StrictValidationPipe(VALIDATION_OPTIONS);

/** Validates a body where pipes do not run yet (in a guard). Throws the same 400. */
export function validateBody<T>(type: new () => T, body: unknown): Promise<T> {
  return validationPipe.transform(body ?? {}, { type: 'body', metatype: type }) as Promise<T>;
}
