import { FixedWindowCounter } from './fixed-window-counter';

describe('FixedWindowCounter', () => {
  const WINDOW = 60_000;
  const start = 10 * WINDOW; // a window boundary

  it('counts each client within a window and starts again at the next one', () => {
    const counter = new FixedWindowCounter(WINDOW);
    expect(counter.hit('a', start)).toBe(1);
    expect(counter.hit('a', start + 1000)).toBe(2);
    expect(counter.hit('b', start + 2000)).toBe(1);
    expect(counter.secondsLeft(start + 2000)).toBe(58);
    expect(counter.hit('a', start + WINDOW - 1)).toBe(3);
    expect(counter.hit('a', start + WINDOW)).toBe(1);
    expect(counter.secondsLeft(start + WINDOW)).toBe(60);
  });

  it('aligns windows on multiples of their length, so every instance resets together', () => {
    const counter = new FixedWindowCounter(WINDOW);
    counter.hit('a', start + 45_000);
    expect(counter.secondsLeft(start + 45_000)).toBe(15);
    expect(counter.hit('a', start + WINDOW + 1)).toBe(1);
  });

  it('counts at most `capacity` clients a window; the rest go uncounted until it ends', () => {
    const counter = new FixedWindowCounter(WINDOW, 2);
    counter.hit('a', start);
    counter.hit('b', start);
    expect(counter.hit('c', start)).toBe(0);
    expect(counter.hit('a', start)).toBe(2);
    expect(counter.hit('c', start + WINDOW)).toBe(1);
  });
});
