import { Check, Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

export const ROLE_NAME_PATTERN = /^[a-z][a-z0-9_-]{0,31}$/;

/** Roles the service holds in all, so that every list of them has a bound (409 beyond). */
export const MAX_ROLES = 100;

/** Roles one user (or one API key) holds at most. */
export const MAX_ROLES_PER_USER = 32;

@Entity('roles')
@Check('CHK_roles_name_format', `"name" ~ '^[a-z][a-z0-9_-]{0,31}$'`)
export class Role {
  @PrimaryColumn({ type: 'varchar', length: 32 })
  name!: string;

  @Column({ type: 'varchar', length: 200, default: '' })
  description!: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt!: Date;
}
