import { MigrationInterface, QueryRunner } from 'typeorm';
import { enterAuthSchema } from '../auth-schema';

export class LoginAttempts1795447707469 implements MigrationInterface {
  name = 'LoginAttempts1795447707469';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await enterAuthSchema(queryRunner);
    await queryRunner.query(
      `CREATE TABLE "login_attempts" ("account_key" character(64) NOT NULL, "window_started_at" TIMESTAMP WITH TIME ZONE NOT NULL, "attempts" integer NOT NULL, CONSTRAINT "PK_a236fc0ffba17ca339553c13ae8" PRIMARY KEY ("account_key"))`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await enterAuthSchema(queryRunner);
    await queryRunner.query(`DROP TABLE "login_attempts"`);
  }
}
