import { MigrationInterface, QueryRunner } from 'typeorm';
import { enterAuthSchema } from '../auth-schema';

export class AccountRecovery1796149708031 implements MigrationInterface {
  name = 'AccountRecovery1796149708031';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await enterAuthSchema(queryRunner);
    await queryRunner.query(
      `CREATE TABLE "outbox" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "kind" character varying(40) NOT NULL, "recipient" character varying(254) NOT NULL, "payload" jsonb NOT NULL, "attempts" integer NOT NULL DEFAULT '0', "next_attempt_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "last_error" character varying(500), "done_at" TIMESTAMP WITH TIME ZONE, "failed_at" TIMESTAMP WITH TIME ZONE, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_340ab539f309f03bdaa14aa7649" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(`CREATE INDEX "IDX_756d40700e570145ca16bc963c" ON "outbox"  ("done_at") `);
    await queryRunner.query(
      `CREATE INDEX "IDX_outbox_due" ON "outbox"  ("next_attempt_at") WHERE "done_at" IS NULL AND "failed_at" IS NULL`,
    );
    await queryRunner.query(
      `CREATE TABLE "account_tokens" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "user_id" uuid NOT NULL, "purpose" character varying(30) NOT NULL, "token_hash" character(64) NOT NULL, "new_email" character varying(254), "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, "used_at" TIMESTAMP WITH TIME ZONE, CONSTRAINT "PK_5e3640c493cc6206a44b885e6a9" PRIMARY KEY ("id"))`,
    );
    await queryRunner.query(
      `CREATE UNIQUE INDEX "IDX_167033390a71c52224c7c636c8" ON "account_tokens"  ("token_hash") `,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_be5e41138d1874b8c512fe2f0c" ON "account_tokens"  ("expires_at") `,
    );
    await queryRunner.query(
      `CREATE INDEX "IDX_dc3fdc213b9bfc438a86fed443" ON "account_tokens"  ("user_id", "purpose", "created_at") `,
    );
    await queryRunner.query(`ALTER TABLE "users" ADD "email_verified" boolean NOT NULL DEFAULT false`);
    await queryRunner.query(
      `ALTER TABLE "token_logins" ADD "authenticated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now()`,
    );
    // A login from before counts as proved when it began, not at this upgrade.
    await queryRunner.query(`UPDATE "token_logins" SET "authenticated_at" = "created_at"`);
    await queryRunner.query(
      `ALTER TABLE "account_tokens" ADD CONSTRAINT "FK_1b5fea09efc20c7f63c4a09b3d6" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await enterAuthSchema(queryRunner);
    await queryRunner.query(`ALTER TABLE "account_tokens" DROP CONSTRAINT "FK_1b5fea09efc20c7f63c4a09b3d6"`);
    await queryRunner.query(`ALTER TABLE "token_logins" DROP COLUMN "authenticated_at"`);
    await queryRunner.query(`ALTER TABLE "users" DROP COLUMN "email_verified"`);
    await queryRunner.query(`DROP INDEX "IDX_dc3fdc213b9bfc438a86fed443"`);
    await queryRunner.query(`DROP INDEX "IDX_be5e41138d1874b8c512fe2f0c"`);
    await queryRunner.query(`DROP INDEX "IDX_167033390a71c52224c7c636c8"`);
    await queryRunner.query(`DROP TABLE "account_tokens"`);
    await queryRunner.query(`DROP INDEX "IDX_outbox_due"`);
    await queryRunner.query(`DROP INDEX "IDX_756d40700e570145ca16bc963c"`);
    await queryRunner.query(`DROP TABLE "outbox"`);
  }
}
