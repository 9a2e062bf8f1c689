import { applyDecorators } from '@nestjs/common';
import { ApiProperty } from '@nestjs/swagger';
import { IsString, Matches } from 'class-validator';
import { ROLE_NAME_PATTERN } from '../role.entity';

/** A role's name, described once: validation and OpenAPI. */
export const RoleNameField = () =>
  applyDecorators(
    ApiProperty({ example: 'auditor', pattern: ROLE_NAME_PATTERN.source }),
    IsString(),
    Matches(ROLE_NAME_PATTERN, {
      message: 'name must be 1-32 lower-case letters, digits, - or _, starting with a letter',
    }),
  );
