import { ValidationPipe, type ValidationPipeOptions } from '@nestjs/common';

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

export const validationPipe = new ValidationPipe(VALIDATION_OPTIONS);

/** Validates a body where pipes do not run yet (in a guard). Throws the same 400. */
export function validateBody<T>(type: new () => T, body: unknown): Promise<T> {
  return validationPipe.transform(body ?? {}, { type: 'body', metatype: type }) as Promise<T>;
}
