import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Request } from 'express';
import { Repository } from 'typeorm';
import { AuditEvent, type AuditEventType } from './audit-event.entity';

export interface AuditRecord {
  type: AuditEventType;
  userId?: string | null;
  actorId?: string | null;
  details?: Record<string, unknown>;
}

export interface AuditSearch {
  page: number;
  limit: number;
  userId?: string;
  type?: AuditEventType;
}

/** Writes and reads the audit trail (PostgreSQL table `audit_events`). */
@Injectable()
export class AuditService {
  private readonly logger = new Logger(AuditService.name);

  constructor(@InjectRepository(AuditEvent) private readonly events: Repository<AuditEvent>) {}

  /**
   * Records an event with the request's client address and user agent. A failed
   * write is logged, never thrown: losing an audit line must not fail a login.
   */
  async record(
    req: Request | undefined,
    { type, userId = null, actorId = null, details }: AuditRecord,
  ): Promise<void> {
    try {
      await this.events.save(
        this.events.create({
          type,
          userId,
          actorId: actorId === userId ? null : actorId,
          ip: req?.ip?.slice(0, 64) ?? null,
          userAgent: req?.headers['user-agent']?.slice(0, 512) ?? null,
          details: details ?? null,
        }),
      );
    } catch (error) {
      this.logger.error({ type, userId }, `Audit event not recorded: ${(error as Error).message}`);
    }
  }

  async search({ page, limit, userId, type }: AuditSearch): Promise<{ items: AuditEvent[]; total: number }> {
    const [items, total] = await this.events.findAndCount({
      where: { ...(userId ? { userId } : {}), ...(type ? { type } : {}) },
      order: { createdAt: 'DESC', id: 'DESC' },
      skip: (page - 1) * limit,
      take: limit,
    });
    return { items, total };
  }
}
