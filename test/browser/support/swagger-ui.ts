import type { Locator, Page } from 'playwright-core';

export interface LiveResponse {
  status: number;
  body: string;
}

/** Drives Swagger UI at /docs the way a person does: Authorize, Try it out, Execute. */
export class SwaggerUi {
  constructor(readonly page: Page) {}

  async open(): Promise<void> {
    await this.page.goto('/docs');
    await this.page.locator('.opblock').first().waitFor();
  }

  /** The operation block, e.g. ('get', '/api/auth/me'). */
  operation(method: string, path: string): Locator {
    return this.page.locator(
      `.opblock.opblock-${method.toLowerCase()}:has(.opblock-summary-path[data-path="${path}"])`,
    );
  }

  /** Authorize → the "bearer" scheme's Value → Authorize → Close. */
  async authorizeBearer(token: string): Promise<void> {
    await this.page.locator('.auth-wrapper button.authorize').click();
    const modal = this.page.locator('.modal-ux');
    const bearer = modal.locator('.auth-container').filter({ hasText: 'http, Bearer' });
    await bearer.locator('input').fill(token);
    await bearer.locator('button.authorize').click();
    // Authorized: the value is masked and "Authorize" becomes "Logout".
    await bearer.locator('button', { hasText: 'Logout' }).waitFor();
    await bearer.locator('button.btn-done').click();
    await modal.waitFor({ state: 'detached' });
  }

  /** Expand → Try it out → (JSON body) → Execute; the status and body of the live response. */
  async execute(method: string, path: string, body?: unknown): Promise<LiveResponse> {
    const op = this.operation(method, path);
    await op.scrollIntoViewIfNeeded();
    if (!(await op.evaluate((el) => el.classList.contains('is-open')))) {
      await op.locator('.opblock-summary-control').click();
    }
    await op.getByRole('button', { name: 'Try it out' }).click();
    if (body !== undefined) await op.locator('textarea.body-param__text').fill(JSON.stringify(body));
    await op.getByRole('button', { name: 'Execute' }).click();
    const live = op.locator('.responses-wrapper .live-responses-table');
    const statusCell = live.locator('tbody .response-col_status').first();
    await statusCell.waitFor();
    const statusText = await statusCell.innerText();
    const match = /\d{3}/.exec(statusText);
    if (!match)
      throw new Error(`no status code in Swagger UI's live response: ${JSON.stringify(statusText)}`);
    const bodyBlock = live.locator('tbody .response-col_description pre').first();
    const text = (await bodyBlock.count()) ? await bodyBlock.innerText() : '';
    return { status: Number(match[0]), body: text };
  }
}
