/**
 * A clone must run on its own: nothing under src/, test/, bench/ or config/ may read or name the
 * folder beside the repository that the data once came from (`../shared`, `shared/data`). The
 * data the tests need is in test/fixtures/, what users run on in data/.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/cli.js';

const FOLDERS = ['src', 'test', 'bench', 'config'];
const FORBIDDEN = [/\.\.\/shared\b/, /\bshared\/data\b/];
const SELF = relative(ROOT, fileURLToPath(import.meta.url));

function filesUnder(folder: string): string[] {
  return readdirSync(join(ROOT, folder), { recursive: true, encoding: 'utf8' })
    .map((f) => join(folder, f))
    .filter((f) => statSync(join(ROOT, f)).isFile());
}

/** `file:line: text` for every line that names a forbidden path. */
function offences(file: string): string[] {
  return readFileSync(join(ROOT, file), 'utf8')
    .split('\n')
    .flatMap((line, i) => (FORBIDDEN.some((re) => re.test(line)) ? [`${file}:${i + 1}: ${line.trim()}`] : []));
}

describe('the repository is self-contained', () => {
  it('the patterns catch the forms a reference takes', () => {
    for (const line of [
      "new URL('../../../shared/data/', import.meta.url)",
      "const DATA = '/work/shared/data';",
      "'--bars', '../shared/data/cn/sse50_daily.jsonl'",
      'resolve(repo, "../shared")',
    ]) {
      expect(FORBIDDEN.some((re) => re.test(line)), line).toBe(true);
    }
    for (const line of ['shared by the gauges', 'const shared: Shared = {', 'test/fixtures/ai-trader/cn']) {
      expect(FORBIDDEN.some((re) => re.test(line)), line).toBe(false);
    }
  });

  it(`no file under ${FOLDERS.join('/, ')}/ reads or names ../shared or shared/data`, () => {
    const files = FOLDERS.flatMap(filesUnder).filter((f) => f !== SELF);
    // The walk really saw the tree (and this file was the only one left out).
    expect(files.length).toBeGreaterThan(100);
    expect(files).toContain(join('test', 'support', 'fixtures.ts'));
    expect(files.flatMap(offences)).toEqual([]);
  });

  it("data/ai-trader holds copies of the fixtures' files, and each copied folder keeps AI-Trader's licence", () => {
    const copies = filesUnder('data/ai-trader').map((f) => relative('data/ai-trader', f)).sort();
    expect(copies).toEqual([
      'AI-Trader.LICENSE',
      'README.md',
      join('agent-logs', 'cn-daily.deepseek-chat-v3.1.position.jsonl'),
      join('agent-logs', 'cn-daily.gpt-5.position.jsonl'),
      join('cn', 'sse50_daily.jsonl'),
    ]);
    for (const f of copies.filter((c) => c !== 'README.md')) {
      expect(readFileSync(join(ROOT, 'data/ai-trader', f)).equals(readFileSync(join(ROOT, 'test/fixtures/ai-trader', f))), f).toBe(true);
    }
    for (const folder of ['data/ai-trader', 'data/sample', 'test/fixtures/ai-trader']) {
      expect(readFileSync(join(ROOT, folder, 'AI-Trader.LICENSE'), 'utf8'), folder).toMatch(/^MIT License\n\nCopyright \(c\) 2025 HKUDS/);
      expect(readFileSync(join(ROOT, folder, 'README.md'), 'utf8'), folder).toContain('HKUDS/AI-Trader');
    }
  });
});
