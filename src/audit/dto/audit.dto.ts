import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsUUID } from 'class-validator';
import { IpAddressProperty, UserAgentProperty } from '../../common/fields';
import { MAX_PAGE_SIZE, PageQuery } from '../../common/page-query';
import { AUDIT_EVENT_TYPES, type AuditEvent, type AuditEventType } from '../audit-event.entity';

export class AuditQuery extends PageQuery {
  @ApiPropertyOptional({ format: 'uuid', description: 'Events about this user' })
  @IsOptional()
  @IsUUID()
  userId?: string;

  @ApiPropertyOptional({ enum: AUDIT_EVENT_TYPES })
  @IsOptional()
  @IsIn(AUDIT_EVENT_TYPES)
  type?: AuditEventType;
}

export class AuditEventResponse {
  // A bigint identity, as a string: at most 19 digits.
  @ApiProperty({ example: '42', pattern: '^\\d+$', maxLength: 19 })
  id!: string;

  @ApiProperty({ enum: AUDIT_EVENT_TYPES })
  type!: AuditEventType;

  @ApiProperty({ type: String, format: 'uuid', nullable: true })
  userId!: string | null;

  @ApiProperty({
    type: String,
    format: 'uuid',
    nullable: true,
    description: 'The admin who acted, if not the user',
  })
  actorId!: string | null;

  @IpAddressProperty()
  ip!: string | null;

  @UserAgentProperty()
  userAgent!: string | null;

  @ApiProperty({ type: Object, nullable: true })
  details!: Record<string, unknown> | null;

  @ApiProperty({ type: String, format: 'date-time' })
  createdAt!: string;

  static from(event: AuditEvent): AuditEventResponse {
    return Object.assign(new AuditEventResponse(), {
      id: String(event.id),
      type: event.type,
      userId: event.userId,
      actorId: event.actorId,
      ip: event.ip,
      userAgent: event.userAgent,
      details: event.details,
      createdAt: event.createdAt.toISOString(),
    });
  }
}

export class AuditPageResponse {
  @ApiProperty({ type: [AuditEventResponse], maxItems: MAX_PAGE_SIZE })
  items!: AuditEventResponse[];

  @ApiProperty()
  total!: number;

  @ApiProperty()
  page!: number;

  @ApiProperty()
  limit!: number;
}
