import { screenshot, useBrowserSuite, requirePages } from './support/browser-suite';
import { signInAt } from './support/pages';

describe('Pages on a phone-sized screen (browser)', () => {
  const suite = useBrowserSuite();
  requirePages(suite);

  it('lays every page out without sideways scrolling at 375 px', async () => {
    const admin = await suite.signUpAdmin();
    const phone = await suite.newPage({
      viewport: { width: 375, height: 740 },
      isMobile: true,
      hasTouch: true,
    });
    // Evaluated in the page; typed by hand, since the tests compile without the DOM library.
    const overflow = () =>
      phone.evaluate(() => {
        const page = globalThis as unknown as {
          innerWidth: number;
          document: { documentElement: { scrollWidth: number } };
        };
        return page.document.documentElement.scrollWidth - page.innerWidth;
      });

    for (const path of ['/login', '/signup']) {
      await phone.goto(path);
      await screenshot(phone, `phone${path.replaceAll('/', '-')}`);
      expect({ path, overflow: await overflow() }).toEqual({ path, overflow: 0 });
    }
    await signInAt(phone, admin);
    for (const path of ['/profile', '/sessions', '/admin/users']) {
      await phone.goto(path);
      await screenshot(phone, `phone${path.replaceAll('/', '-')}`);
      expect({ path, overflow: await overflow() }).toEqual({ path, overflow: 0 });
    }
  });
});
