import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/domain/errors.js';
import { loadBenchmark } from '../../src/report/benchmark.js';
import { alignBenchmark } from '../../src/report/metrics.js';

const sample = (name: string) => fileURLToPath(new URL(`../../data/sample/${name}`, import.meta.url));

describe('loadBenchmark', () => {
  it('reads QQQ hourly closes as known at each bar\'s end (label = start, 60 minutes)', async () => {
    const b = await loadBenchmark(sample('QQQ_60min.json'));
    expect(b.symbol).toBe('QQQ');
    expect(b.points.length).toBeGreaterThan(100);
    const times = b.points.map((p) => Date.parse(p.at));
    expect(times).toEqual([...times].sort((x, y) => x - y));
    // the bar labelled 2025-10-30 15:00 (15:00-16:00) closed at 626.01: known at 16:00, not at 15:00
    expect(b.points).toContainEqual({ at: '2025-10-30T16:00:00-04:00', close: '626.01' });
    const [at1500, at1600] = alignBenchmark(b, ['2025-10-30T15:05:00-04:00', '2025-10-30T16:00:00-04:00']);
    expect(at1500!.close?.toFixed()).toBe('628.89'); // the 14:00 bar's close, known at 15:00
    expect(at1600!.close?.toFixed()).toBe('626.01');
  });

  it('reads the SSE 50 index daily closes as known at 15:00 Shanghai', async () => {
    const b = await loadBenchmark(sample('sse50_index_daily.json'));
    expect(b.symbol).toBe('000016.SH');
    expect(b.points.every((p) => p.at.endsWith('T15:00:00+08:00'))).toBe(true);
  });

  it('refuses a file with several symbols unless one is named, and a missing file', async () => {
    await expect(loadBenchmark(sample('cn_daily.jsonl'))).rejects.toThrow(/symbols .*name the one to use/);
    const dir = await mkdtemp(join(tmpdir(), 'agent-trader-bench-'));
    await expect(loadBenchmark(join(dir, 'none.json'))).rejects.toThrow(InputError);
    const openOnly = join(dir, 'open-only.json');
    await writeFile(
      openOnly,
      JSON.stringify({
        'Meta Data': { '2. Symbol': 'QQQ', '6. Time Zone': 'US/Eastern' },
        'Time Series (60min)': { '2025-10-30 15:00:00': { '1. open': '628.88' } },
      }),
    );
    await expect(loadBenchmark(openOnly)).rejects.toThrow(/no complete bar/);
  });
});
