import { MigrationInterface, QueryRunner } from 'typeorm';
import { enterAuthSchema } from '../auth-schema';

export class IntegrityUnderRaces1796127747170 implements MigrationInterface {
  name = 'IntegrityUnderRaces1796127747170';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await enterAuthSchema(queryRunner);
    await queryRunner.query(`ALTER TABLE "users" ADD "credential_version" integer NOT NULL DEFAULT '0'`);
    await queryRunner.query(
      `ALTER TABLE "token_logins" ADD "credential_version" integer NOT NULL DEFAULT '0'`,
    );
    await queryRunner.query(
      `ALTER TABLE "login_attempts" ADD "day_started_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now()`,
    );
    await queryRunner.query(`ALTER TABLE "login_attempts" ADD "day_failures" integer NOT NULL DEFAULT '0'`);
    // Failures already counted in an open window count towards the day too.
    await queryRunner.query(
      `UPDATE "login_attempts" SET "day_started_at" = "window_started_at", "day_failures" = "attempts"`,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_dbfa0d813461e1c442c54f1ff1" ON "login_attempts"  ("day_started_at") `,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await enterAuthSchema(queryRunner);
    await queryRunner.query(`DROP INDEX "IDX_dbfa0d813461e1c442c54f1ff1"`);
    await queryRunner.query(`ALTER TABLE "login_attempts" DROP COLUMN "day_failures"`);
    await queryRunner.query(`ALTER TABLE "login_attempts" DROP COLUMN "day_started_at"`);
    await queryRunner.query(`ALTER TABLE "token_logins" DROP COLUMN "credential_version"`);
    await queryRunner.query(`ALTER TABLE "users" DROP COLUMN "credential_version"`);
  }
}
