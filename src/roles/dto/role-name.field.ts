import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsString, Matches } from 'class-validator';
import { Omittable } from '../../common/fields';
import { MAX_ROLES_PER_USER, ROLE_NAME_PATTERN } from '../role.entity';

/** What ROLE_NAME_PATTERN allows (and roles.name, varchar(32), holds). */
export const MAX_ROLE_NAME_LENGTH = 32;

/** A role's name, described once: validation and OpenAPI. */
export const RoleNameField = () =>
  applyDecorators(
    ApiProperty({ example: 'auditor', pattern: ROLE_NAME_PATTERN.source, maxLength: MAX_ROLE_NAME_LENGTH }),
    IsString(),
    Matches(ROLE_NAME_PATTERN, {
      message: 'name must be 1-32 lower-case letters, digits, - or _, starting with a letter',
    }),
  );

/** The roles to give a user or an API key; optional when `optional`. */
export const RoleNamesField = ({
  optional = false,
  ...doc
}: {
  optional?: boolean;
  example: string[];
  description: string;
}) =>
  applyDecorators(
    (optional ? ApiPropertyOptional : ApiProperty)({
      ...doc,
      type: [String],
      maxItems: MAX_ROLES_PER_USER,
      pattern: ROLE_NAME_PATTERN.source,
      maxLength: MAX_ROLE_NAME_LENGTH,
    }),
    ...(optional ? [Omittable()] : []),
    IsArray(),
    ArrayMaxSize(MAX_ROLES_PER_USER),
    IsString({ each: true }),
    Matches(ROLE_NAME_PATTERN, { each: true, message: 'each role must be a role name' }),
  );

/** A role's name, in a response. */
export const RoleNameProperty = () => ApiProperty({ example: 'admin', maxLength: MAX_ROLE_NAME_LENGTH });

/** The roles of a user or an API key, in a response. */
export const RoleNamesProperty = () =>
  ApiProperty({
    type: [String],
    example: ['user'],
    maxItems: MAX_ROLES_PER_USER,
    maxLength: MAX_ROLE_NAME_LENGTH,
  });
