import { ConflictException, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, Repository } from 'typeorm';
import { isUniqueViolation } from '../common/postgres-errors';
import { lockUntilTransactionEnds } from '../database/advisory-lock';
import { MAX_ROLES, Role } from './role.entity';

/** Any constant shared by every instance: one role creation at a time across them. */
const ROLE_CREATION_LOCK_KEY = 7_231_004_516;

@Injectable()
export class RolesService {
  constructor(@InjectRepository(Role) private readonly roles: Repository<Role>) {}

  findAll(): Promise<Role[]> {
    return this.roles.find({ order: { name: 'ASC' } });
  }

  /** 409 when the name is taken, or when there are MAX_ROLES roles already (built-in ones count). */
  async create(name: string, description = ''): Promise<Role> {
    try {
      // Counted and inserted under one lock: two creations at once cannot both take the last place.
      return await this.roles.manager.transaction(async (manager) => {
        await lockUntilTransactionEnds(manager, ROLE_CREATION_LOCK_KEY);
        if ((await manager.count(Role)) >= MAX_ROLES)
          throw new ConflictException(`There can be at most ${MAX_ROLES} roles: no more can be created`);
        // insert, not save: save() would silently update an existing role of that name.
        await manager.insert(Role, { name, description });
        return manager.findOneByOrFail(Role, { name });
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictException(`Role ${name} already exists`);
      throw error;
    }
  }

  findByNames(names: readonly string[]): Promise<Role[]> {
    return this.roles.findBy({ name: In([...names]) });
  }
}
