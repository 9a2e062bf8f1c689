import type { Locator, Page } from 'playwright-core';

/**
 * Helpers for the server-rendered pages. They act through labels and roles only
 * (as a screen-reader user would) and work with JavaScript disabled.
 */

/** Clicks a control that submits a form or follows a link, and waits for the next page to load. */
export async function clickAndLoad(page: Page, control: Locator): Promise<void> {
  const navigated = page.waitForEvent('framenavigated', { predicate: (frame) => frame === page.mainFrame() });
  try {
    await control.click();
  } catch (error) {
    navigated.catch(() => undefined);
    throw error;
  }
  await navigated;
  await page.waitForLoadState('load');
}

/** An input by its exact label text (or a pattern, e.g. /^Name\b/ for "Name (optional)"). */
export const field = (page: Page | Locator, label: string | RegExp) =>
  page.getByLabel(label, { exact: true });

/** A button by its exact accessible name. */
export const button = (page: Page | Locator, name: string) => page.getByRole('button', { name, exact: true });

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A button by its visible text, for buttons in table rows, whose accessible names
 * say more than their text (e.g. aria-label "Disable ada@example.com" on "Disable").
 */
export const buttonWithText = (scope: Page | Locator, text: string) =>
  scope.getByRole('button').filter({ hasText: new RegExp(`^\\s*${escapeRegExp(text)}\\s*$`) });

export async function signIn(page: Page, user: { email: string; password: string }): Promise<void> {
  await field(page, 'Email').fill(user.email);
  await field(page, 'Password').fill(user.password);
  await clickAndLoad(page, button(page, 'Sign in'));
}

/** Opens /login (or the given login URL) and signs in with the form. */
export async function signInAt(
  page: Page,
  user: { email: string; password: string },
  loginUrl = '/login',
): Promise<void> {
  await page.goto(loginUrl);
  await signIn(page, user);
}

export const header = (page: Page) => page.locator('header');

/** The header's "Sign out" form (POST /logout). */
export async function signOut(page: Page): Promise<void> {
  await clickAndLoad(page, button(header(page), 'Sign out'));
}

/** Names and targets of the header's links, and whether it has the "Sign out" button. */
export async function headerNav(
  page: Page,
): Promise<{ links: Record<string, string | null>; signOut: boolean }> {
  const links: Record<string, string | null> = {};
  for (const link of await header(page).getByRole('link').all()) {
    links[(await link.innerText()).trim()] = await link.getAttribute('href');
  }
  return { links, signOut: (await button(header(page), 'Sign out').count()) === 1 };
}

/** The DOM members used below (the project's tsconfig has no DOM lib). */
interface FormControl {
  labels: ArrayLike<{ innerText: string }> | null;
  outerHTML: string;
  value: string;
}

/**
 * Every form control a person fills in (not hidden, not a button) has a <label>;
 * returns a description of the ones that do not (expected: []).
 */
export async function unlabelledControls(page: Page): Promise<string[]> {
  const controls = page.locator(
    'input:not([type=hidden]):not([type=submit]):not([type=button]):not([type=reset]), select, textarea',
  );
  const missing: string[] = [];
  for (const control of await controls.all()) {
    const labelled = await control.evaluate((el: FormControl) =>
      Array.from(el.labels ?? []).some((label) => label.innerText.trim() !== ''),
    );
    if (!labelled) missing.push(await control.evaluate((el: FormControl) => el.outerHTML));
  }
  return missing;
}

/** Every POST form carries a non-empty hidden `_csrf` field; returns the actions of those that do not. */
export async function postFormsWithoutCsrf(page: Page): Promise<string[]> {
  const missing: string[] = [];
  for (const form of await page.locator('form').all()) {
    const method = ((await form.getAttribute('method')) ?? 'get').toLowerCase();
    if (method !== 'post') continue;
    const csrf = form.locator('input[type=hidden][name=_csrf]');
    const value = (await csrf.count()) === 1 ? await csrf.getAttribute('value') : null;
    if (!value) missing.push((await form.getAttribute('action')) ?? '(no action)');
  }
  return missing;
}

/** Sets a field's value behind the page's back (e.g. a forged hidden field), as a script could. */
export async function setValue(control: Locator, value: string): Promise<void> {
  await control.evaluate((el: FormControl, v: string) => {
    el.value = v;
  }, value);
}

/** Turns off the browser's constraint validation (required, minlength) so the server's answer shows. */
export async function disableNativeValidation(form: Locator): Promise<void> {
  await form.evaluate((el: { noValidate: boolean }) => {
    el.noValidate = true;
  });
}

/**
 * The text of the `.field-error` that the field's aria-describedby points at, and
 * its distance in pixels from the field (it must sit next to it).
 */
export async function fieldError(
  page: Page,
  label: string | RegExp,
): Promise<{ text: string; distance: number }> {
  const input = field(page, label);
  const describedBy = (await input.getAttribute('aria-describedby')) ?? '';
  const ids = describedBy.split(/\s+/).filter(Boolean);
  if (!ids.length) throw new Error(`the "${String(label)}" field has no aria-describedby`);
  const error = page.locator(ids.map((id) => `[id="${id}"].field-error`).join(', ')).first();
  if (!(await error.count())) {
    throw new Error(
      `the "${String(label)}" field's aria-describedby (${describedBy}) names no .field-error element`,
    );
  }
  const [a, b] = [await input.boundingBox(), await error.boundingBox()];
  const distance = a && b ? Math.max(0, b.y - (a.y + a.height), a.y - (b.y + b.height)) : Infinity;
  return { text: (await error.innerText()).trim(), distance };
}
