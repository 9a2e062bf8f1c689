// The bench's memory probe, preloaded into an instance of the service (never in
// production):
//
//   BENCH_MEMORY_FILE=/tmp/x.jsonl node --require ./bench/memory-probe.js --expose-gc dist/src/main.js
//
// On SIGUSR2 it forces two full garbage collections (the second one frees what the
// first one's finalizers let go) and appends one JSON line to BENCH_MEMORY_FILE:
// process.memoryUsage() (rss, heapTotal, heapUsed = the live heap, external,
// arrayBuffers), the kernel's view of the process (VmRSS, VmHWM = peak resident,
// Threads, and smaps_rollup's anonymous and file-backed resident parts), and
// v8.getHeapSpaceStatistics() (the size and use of each V8 space). Sizes in bytes.
// The signal's sender reads the file once a line for its `seq` is there: the line
// is written synchronously, right after the signal.
'use strict';

const { appendFileSync, readFileSync } = require('node:fs');
const v8 = require('node:v8');

const file = process.env.BENCH_MEMORY_FILE;
let seq = 0;

/**
 * The largest figures seen since the last line, sampled every 100 ms (without a
 * GC): what the heap and the process reached under load, which the line's own
 * figures, taken after a forced GC, no longer show.
 */
let peak;
function resetPeak() {
  peak = { rss: 0, heapTotal: 0, heapUsed: 0, external: 0, newSpace: 0, oldSpace: 0, largeObjectSpace: 0 };
}
function samplePeak() {
  const m = process.memoryUsage();
  peak.rss = Math.max(peak.rss, m.rss);
  peak.heapTotal = Math.max(peak.heapTotal, m.heapTotal);
  peak.heapUsed = Math.max(peak.heapUsed, m.heapUsed);
  peak.external = Math.max(peak.external, m.external);
  for (const s of v8.getHeapSpaceStatistics()) {
    const key = { new_space: 'newSpace', old_space: 'oldSpace', large_object_space: 'largeObjectSpace' }[
      s.space_name
    ];
    if (key) peak[key] = Math.max(peak[key], s.space_size);
  }
}

/** `Name: 123 kB` fields of a /proc file, in bytes (Threads as a count). */
function procFields(path, names) {
  let text;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return {};
  }
  const out = {};
  for (const name of names) {
    const match = new RegExp(`^${name}:\\s+(\\d+)(\\s+kB)?`, 'm').exec(text);
    if (match) out[name] = Number(match[1]) * (match[2] ? 1024 : 1);
  }
  return out;
}

function snapshot() {
  samplePeak();
  const sinceLast = peak;
  resetPeak();
  const before = process.memoryUsage();
  const started = process.hrtime.bigint();
  if (typeof global.gc === 'function') {
    global.gc();
    global.gc();
  }
  const gcMs = Number(process.hrtime.bigint() - started) / 1e6;
  const spaces = {};
  for (const s of v8.getHeapSpaceStatistics())
    spaces[s.space_name] = { size: s.space_size, used: s.space_used_size, physical: s.physical_space_size };
  const heap = v8.getHeapStatistics();
  return {
    seq: ++seq,
    at: new Date().toISOString(),
    pid: process.pid,
    gc: typeof global.gc === 'function',
    gcMs: Math.round(gcMs * 10) / 10,
    rssBeforeGc: before.rss,
    heapUsedBeforeGc: before.heapUsed,
    memoryUsage: process.memoryUsage(),
    status: procFields('/proc/self/status', ['VmRSS', 'VmHWM', 'RssAnon', 'RssFile', 'Threads']),
    smaps: procFields('/proc/self/smaps_rollup', ['Rss', 'Anonymous', 'Private_Dirty', 'Shared_Clean']),
    heap: {
      totalHeapSize: heap.total_heap_size,
      totalPhysicalSize: heap.total_physical_size,
      usedHeapSize: heap.used_heap_size,
      heapSizeLimit: heap.heap_size_limit,
      mallocedMemory: heap.malloced_memory,
      peakMallocedMemory: heap.peak_malloced_memory,
      externalMemory: heap.external_memory,
    },
    spaces,
    peakSinceLast: sinceLast,
  };
}

resetPeak();
if (file) {
  setInterval(samplePeak, 100).unref();
  process.on('SIGUSR2', () => {
    appendFileSync(file, `${JSON.stringify(snapshot())}\n`);
  });
}

module.exports = { snapshot };
