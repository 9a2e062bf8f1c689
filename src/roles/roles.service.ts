import { ConflictException, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { In, Repository } from 'typeorm';
import { isUniqueViolation } from '../common/postgres-errors';
import { Role } from './role.entity';

@Injectable()
export class RolesService {
  constructor(@InjectRepository(Role) private readonly roles: Repository<Role>) {}

  findAll(): Promise<Role[]> {
    return this.roles.find({ order: { name: 'ASC' } });
  }

  async create(name: string, description = ''): Promise<Role> {
    try {
      // insert, not save: save() would silently update an existing role of that name.
      await this.roles.insert({ name, description });
      return await this.roles.findOneByOrFail({ name });
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictException(`Role ${name} already exists`);
      throw error;
    }
  }

  findByNames(names: readonly string[]): Promise<Role[]> {
    return this.roles.findBy({ name: In([...names]) });
  }
}
