import { applyDecorators, type Type } from '@nestjs/common';
import { ApiExtraModels, ApiOkResponse, getSchemaPath } from '@nestjs/swagger';

/**
 * A 200 answering a list of `type`, with the most items it can hold (`maxItems`):
 * every list the service answers has a cap it enforces, and the document states it.
 */
export const ApiListResponse = (type: Type, maxItems: number, description?: string) =>
  applyDecorators(
    ApiExtraModels(type),
    ApiOkResponse({ description, schema: { type: 'array', maxItems, items: { $ref: getSchemaPath(type) } } }),
  );
