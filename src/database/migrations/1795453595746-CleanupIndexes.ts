import { MigrationInterface, QueryRunner } from 'typeorm';
import { enterAuthSchema } from '../auth-schema';

export class CleanupIndexes1795453595746 implements MigrationInterface {
  name = 'CleanupIndexes1795453595746';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await enterAuthSchema(queryRunner);
    await queryRunner.query(
      `CREATE INDEX "IDX_157935db1682f0393f20d053a7" ON "login_attempts"  ("window_started_at") `,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_3f85b8a3f0b0b21ef3e6e0be7e" ON "cookie_sessions"  ("last_used_at") `,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await enterAuthSchema(queryRunner);
    await queryRunner.query(`DROP INDEX "IDX_3f85b8a3f0b0b21ef3e6e0be7e"`);
    await queryRunner.query(`DROP INDEX "IDX_157935db1682f0393f20d053a7"`);
  }
}
